package embedded

import (
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// serverLogger adapts hclog to nats-server's Logger interface. Fatalf logs an
// error and remembers the message instead of exiting the process.
type serverLogger struct {
	log hclog.Logger

	mu    sync.Mutex
	fatal string // first fatal message
}

func (l *serverLogger) msg(format string, v []any) string {
	return strings.TrimSpace(fmt.Sprintf(format, v...))
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Info(l.msg(format, v)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(l.msg(format, v)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(l.msg(format, v)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(l.msg(format, v)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Trace(l.msg(format, v)) }

// Fatalf logs at error level and records the message; it never exits.
func (l *serverLogger) Fatalf(format string, v ...any) {
	m := l.msg(format, v)
	l.log.Error(m, "fatal", true)
	l.mu.Lock()
	if l.fatal == "" {
		l.fatal = m
	}
	l.mu.Unlock()
}

// fatalMsg returns the first fatal message, or "".
func (l *serverLogger) fatalMsg() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}
