// Package repo finds the repository's root folder, where template.yaml,
// the Makefile and the .cache folder are: the tools and tests that read
// them run from any folder below it (go test runs in the package's).
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Root returns the nearest folder above the working directory (or the
// working directory itself) that holds go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("repo: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repo: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path returns elem joined under the repository root.
func Path(elem ...string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{root}, elem...)...), nil
}
