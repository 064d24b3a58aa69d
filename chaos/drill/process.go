package drill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Proc is one process of the deployment (a NATS server, a master or a
// store): started in its own process group, its output appended to a log
// file, stopped and killed by PID only. It can be started again after it
// exited or was killed.
type Proc struct {
	Name    string
	binary  string
	args    []string
	logPath string
	log     hclog.Logger

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the running cmd exited
	paused bool
	starts int
}

// newProc returns a process that is not started.
func newProc(name, binary, logPath string, log hclog.Logger, args ...string) *Proc {
	return &Proc{Name: name, binary: binary, args: args, logPath: logPath, log: log.With("proc", name)}
}

// Start starts the process; an error if it is running.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%w: %s is running", ErrProcess, p.Name)
	}
	out, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %s: log: %w", ErrProcess, p.Name, err)
	}
	fmt.Fprintf(out, "=== drill: start %d of %s at %s\n", p.starts+1, p.Name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.binary, p.args...)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a terminal's Ctrl-C reaches only the
	// runner, which stops it; and SIGKILL should the runner die without
	// stopping it (a panic, a kill -9).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return fmt.Errorf("%w: start %s: %w", ErrProcess, p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(done)
	}()
	p.cmd, p.done, p.paused = cmd, done, false
	p.starts++
	p.log.Debug("started", "pid", cmd.Process.Pid)
	return nil
}

// PID is the running process's id, 0 when it is not running.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process was started and has not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited returns a channel closed when the current process exits (nil when
// it is not running).
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// signal sends sig to the running process by PID.
func (p *Proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("%w: %s is not running", ErrProcess, p.Name)
	}
	if err := syscall.Kill(p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: signal %v to %s: %w", ErrProcess, sig, p.Name, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	return nil
}

// Pause freezes the process (SIGSTOP); Resume thaws it (SIGCONT).
func (p *Proc) Pause() error  { return p.signal(syscall.SIGSTOP) }
func (p *Proc) Resume() error { return p.signal(syscall.SIGCONT) }

// Kill kills the process with SIGKILL and waits until it is gone.
func (p *Proc) Kill(ctx context.Context) error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.reap(ctx)
}

// reap waits for the process to exit and forgets it.
func (p *Proc) reap(ctx context.Context) error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: %s did not exit: %w", ErrProcess, p.Name, ctx.Err())
	}
	p.mu.Lock()
	p.cmd, p.done, p.paused = nil, nil, false
	p.mu.Unlock()
	return nil
}

// Stop stops the process: SIGCONT if it is paused, SIGTERM, then SIGKILL
// if it has not exited within timeout. It is a no-op when not running.
func (p *Proc) Stop(timeout time.Duration) {
	p.mu.Lock()
	cmd, done, paused := p.cmd, p.done, p.paused
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	if paused {
		_ = p.signal(syscall.SIGCONT)
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		p.log.Warn("did not stop after SIGTERM: killing it", "pid", cmd.Process.Pid, "timeout", timeout)
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	_ = p.reap(context.Background())
}
