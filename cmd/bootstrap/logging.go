package main

import (
	"io"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger returns the bootstrap's own logger, writing to w in Lambda's text or JSON format.
func newLogger(w io.Writer, format string) *zap.Logger {
	cfg := zapcore.EncoderConfig{
		TimeKey:        "timestamp",
		LevelKey:       "level",
		MessageKey:     "message",
		NameKey:        "logger",
		EncodeTime:     zapcore.TimeEncoderOfLayout(time.RFC3339Nano),
		EncodeLevel:    zapcore.CapitalLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		LineEnding:     "\n",
	}
	var enc zapcore.Encoder
	if isJSON(format) {
		enc = zapcore.NewJSONEncoder(cfg)
	} else {
		cfg.ConsoleSeparator = "\t"
		enc = zapcore.NewConsoleEncoder(cfg)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(&lockedWriter{w: w}), zapcore.InfoLevel)
	return zap.New(core).Named("polyboot")
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// textSink writes handler log lines as Lambda's runtimes do:
// timestamp<TAB>requestId<TAB>LEVEL<TAB>message, one write per line.
type textSink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func newTextSink(w io.Writer) *textSink { return &textSink{w: w} }

// Log implements supervisor.LogSink.
func (s *textSink) Log(requestID string, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := time.Now().UTC().AppendFormat(s.buf[:0], "2006-01-02T15:04:05.000Z")
	b = append(b, '\t')
	if requestID == "" {
		requestID = "-"
	}
	b = append(b, requestID...)
	b = append(b, "\tINFO\t"...)
	b = append(b, line...)
	b = append(b, '\n')
	_, _ = s.w.Write(b)
	s.buf = b[:0]
}
