package transport

// Logger receives the diagnostic records of a transport (dials, reconnects,
// each command and its exit). It is an interface here, not a logging
// library's type, so that only cmd/lxcplan imports the logging library; the
// CLI adapts its logger to this. A nil Logger means silent.
//
// Transports redact every value they pass: a Logger sees no secrets.
type Logger interface {
	Log(level LogLevel, msg string, fields ...Field)
}

// LogLevel is the importance of a record.
type LogLevel int8

const (
	// LogDebug is for -v output: every command, every dial.
	LogDebug LogLevel = iota
	// LogInfo is for what a user should see by default, such as a host key
	// trusted on first use.
	LogInfo
)

func (l LogLevel) String() string {
	if l == LogInfo {
		return "info"
	}
	return "debug"
}

// Field is one key/value of a record. Value is a string, bool, int, or
// time.Duration.
type Field struct {
	Key   string
	Value any
}

// F builds a Field.
func F(key string, value any) Field { return Field{Key: key, Value: value} }

// LoggerFunc adapts a function to Logger.
type LoggerFunc func(level LogLevel, msg string, fields ...Field)

// Log calls f.
func (f LoggerFunc) Log(level LogLevel, msg string, fields ...Field) { f(level, msg, fields...) }
