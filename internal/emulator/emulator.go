// Package emulator starts the local stand-ins for AWS that the tests and the
// local stack run against: AWS's DynamoDB Local and the goaws SNS emulator.
//
// Both are fetched once into the cache folder by fetch.sh beside this file
// (`make deps`); this package only finds and runs them. Every process it
// starts dies with the process that started it.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/repo"
)

// ErrNotInstalled: the emulator is not in the cache; run `make deps`.
var ErrNotInstalled = errors.New("emulator: not installed (run `make deps`)")

// CacheDir is where fetch.sh puts the emulators: $FPR_CACHE, or .cache at
// the repository root.
func CacheDir() (string, error) {
	if dir := os.Getenv("FPR_CACHE"); dir != "" {
		return dir, nil
	}
	return repo.Path(".cache")
}

// Process is a running emulator.
type Process struct {
	// Endpoint is the emulator's base URL, e.g. http://127.0.0.1:8000.
	Endpoint string
	// Port is the TCP port it listens on.
	Port int
	name string
	cmd  *exec.Cmd
	log  *os.File
	once sync.Once
	done chan struct{}
}

// Stop ends the emulator and waits for it to exit. It is safe to call more
// than once.
func (p *Process) Stop() {
	p.once.Do(func() {
		if p.cmd.Process != nil {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if p.log != nil {
			_ = p.log.Close()
		}
	})
}

// Kill ends the emulator abruptly, as a crash would, and waits for it.
func (p *Process) Kill() { p.Stop() }

// LogPath is the file the emulator's output goes to.
func (p *Process) LogPath() string {
	if p.log == nil {
		return ""
	}
	return p.log.Name()
}

// FreePort asks the kernel for a free TCP port on the loopback address.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DynamoDBOptions configures DynamoDB Local.
type DynamoDBOptions struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// DBPath keeps the data in that folder (so a restart finds it again);
	// empty keeps it in memory.
	DBPath string
	// LogDir receives the emulator's output; empty uses a temporary folder.
	LogDir string
}

// DynamoDBJar returns the folder holding DynamoDBLocal.jar in the cache.
func DynamoDBJar() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "dynamodb-local")
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
		return "", fmt.Errorf("%w: %s has no DynamoDBLocal.jar", ErrNotInstalled, dir)
	}
	return dir, nil
}

// StartDynamoDB starts DynamoDB Local on 127.0.0.1 and waits until it
// answers.
func StartDynamoDB(ctx context.Context, opts DynamoDBOptions) (*Process, error) {
	dir, err := DynamoDBJar()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("emulator: DynamoDB Local needs Java 17 or later on the PATH: %w", err)
	}
	port := opts.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	args := []string{
		"-Djava.library.path=" + filepath.Join(dir, "DynamoDBLocal_lib"),
		"-Xms64m", "-Xmx512m",
		"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
		"-sharedDb", "-port", strconv.Itoa(port),
	}
	if opts.DBPath != "" {
		if err := os.MkdirAll(opts.DBPath, 0o755); err != nil {
			return nil, fmt.Errorf("emulator: DynamoDB Local data folder: %w", err)
		}
		args = append(args, "-dbPath", opts.DBPath)
	} else {
		args = append(args, "-inMemory")
	}
	// DynamoDB Local binds every interface; nothing but loopback is used.
	p, err := start(ctx, "dynamodb-local", opts.LogDir, port, "java", args...)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// GoawsBinary returns the path of the goaws emulator in the cache.
func GoawsBinary() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "bin", "goaws")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%w: no goaws at %s", ErrNotInstalled, bin)
	}
	return bin, nil
}

// SNSOptions configures the goaws SNS emulator.
type SNSOptions struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// Topics to create at start, by name.
	Topics []string
	// LogDir receives the emulator's output and its configuration file.
	LogDir string
}

// Region is the region the emulators are addressed in.
const Region = "us-east-1"

// AccountID is the account goaws puts in every ARN.
const AccountID = "100010001000"

// StartSNS starts goaws, whose SNS side delivers to http subscriptions
// synchronously, and waits until it answers.
func StartSNS(ctx context.Context, opts SNSOptions) (*Process, error) {
	bin, err := GoawsBinary()
	if err != nil {
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	logDir, err := logFolder(opts.LogDir)
	if err != nil {
		return nil, err
	}
	var topics strings.Builder
	for _, t := range opts.Topics {
		fmt.Fprintf(&topics, "      - Name: %s\n", t)
	}
	if topics.Len() == 0 {
		topics.WriteString("      []\n")
	}
	conf := fmt.Sprintf(`Local:
  Host: 127.0.0.1
  Port: %d
  Region: %s
  AccountId: "%s"
  LogToFile: false
  QueueAttributeDefaults:
    VisibilityTimeout: 30
    ReceiveMessageWaitTimeSeconds: 0
  Queues: []
  Topics:
%s`, port, Region, AccountID, topics.String())
	confPath := filepath.Join(logDir, fmt.Sprintf("goaws-%d.yaml", port))
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("emulator: write goaws configuration: %w", err)
	}
	return start(ctx, "goaws", logDir, port, bin, "-config", confPath, "Local")
}

// TopicARN is the ARN goaws gives the topic called name.
func TopicARN(name string) string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", Region, AccountID, name)
}

func logFolder(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "fpr-emulator-")
		if err != nil {
			return "", fmt.Errorf("emulator: log folder: %w", err)
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("emulator: log folder: %w", err)
	}
	return dir, nil
}

func start(ctx context.Context, name, logDir string, port int, bin string, args ...string) (*Process, error) {
	dir, err := logFolder(logDir)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, port)))
	if err != nil {
		return nil, fmt.Errorf("emulator: %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	// DynamoDB Local leaves a metadata file in its working directory: keep
	// it beside the log, out of the source tree.
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so Stop ends its children too; and it dies with
	// the process that started it, so no emulator outlives a test run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("emulator: start %s: %w", name, err)
	}
	p := &Process{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		Port:     port,
		name:     name,
		cmd:      cmd,
		log:      logf,
		done:     make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := waitListening(ctx, p, 60*time.Second); err != nil {
		p.Stop()
		out, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("emulator: %s did not start: %w\n%s", name, err, tail(out, 2000))
	}
	return p, nil
}

func waitListening(ctx context.Context, p *Process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	addr := fmt.Sprintf("127.0.0.1:%d", p.Port)
	for {
		select {
		case <-p.done:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
