package repo_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/streamhook/fastpix-receiver/internal/repo"
)

// Run from this package's folder, as go test does, Root is two levels up:
// the folder with go.mod and template.yaml.
func TestRoot(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Dir(filepath.Dir(wd)); root != want {
		t.Errorf("Root = %s, want %s", root, want)
	}
	p, err := repo.Path("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("Path(template.yaml): %v", err)
	}
	t.Chdir(t.TempDir())
	if _, err := repo.Root(); err == nil {
		t.Error("Root found a go.mod above a temporary folder")
	}
}
