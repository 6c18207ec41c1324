package ssh

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// bufLogger records every log record as one line, `level msg key="value"…`,
// so tests can look for leaked secrets in exactly what a Logger receives.
type bufLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *bufLogger) Log(level transport.LogLevel, msg string, fields ...transport.Field) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, "%s %q", level, msg)
	for _, f := range fields {
		fmt.Fprintf(&l.buf, " %s=%q", f.Key, fmt.Sprint(f.Value))
	}
	l.buf.WriteByte('\n')
}

func (l *bufLogger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *bufLogger) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}
