package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// levelRank returns the rank of a log level as Lambda's advanced logging controls name them, in
// increasing order TRACE, DEBUG, INFO, WARN, ERROR, FATAL (WARNING and CRITICAL as Python spells
// them count as WARN and FATAL), or -1 for anything else.
func levelRank(name string) int {
	switch strings.ToUpper(name) {
	case "TRACE":
		return 0
	case "DEBUG":
		return 1
	case "INFO":
		return 2
	case "WARN", "WARNING":
		return 3
	case "ERROR":
		return 4
	case "FATAL", "CRITICAL":
		return 5
	}
	return -1
}

// levelName is the canonical name of a rank from levelRank.
func levelName(rank int) string {
	return [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}[rank]
}

// logSettings are AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL.
type logSettings struct {
	json     bool
	minLevel int // the bootstrap's own records below are dropped; INFO by default
	// handlerMin: handler records below are dropped. As on Lambda, text logs without
	// AWS_LAMBDA_LOG_LEVEL filter nothing (a handler's DEBUG lines show); JSON logs default to INFO.
	handlerMin int
}

func newLogSettings(format, level string) logSettings {
	s := logSettings{json: strings.EqualFold(format, "json"), minLevel: levelRank("INFO")}
	if r := levelRank(level); r >= 0 {
		s.minLevel = r
	}
	s.handlerMin = s.minLevel
	if levelRank(level) < 0 && !s.json {
		s.handlerMin = levelRank("TRACE")
	}
	return s
}

// newLogger returns the bootstrap's own logger, writing to w in Lambda's text or JSON format.
func newLogger(w io.Writer, s logSettings) *zap.Logger {
	cfg := zapcore.EncoderConfig{
		TimeKey:        "timestamp",
		LevelKey:       "level",
		MessageKey:     "message",
		NameKey:        "logger",
		EncodeTime:     zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z07:00"),
		EncodeLevel:    zapcore.CapitalLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		LineEnding:     "\n",
	}
	var enc zapcore.Encoder
	if s.json {
		enc = zapcore.NewJSONEncoder(cfg)
	} else {
		cfg.ConsoleSeparator = "\t"
		enc = zapcore.NewConsoleEncoder(cfg)
	}
	level := zapcore.InfoLevel
	switch {
	case s.minLevel <= levelRank("DEBUG"):
		level = zapcore.DebugLevel
	case s.minLevel == levelRank("WARN"):
		level = zapcore.WarnLevel
	case s.minLevel >= levelRank("ERROR"):
		level = zapcore.ErrorLevel
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(&lockedWriter{w: w}), level)
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

// handlerLogSink writes handler log lines to w, one write per record, as Lambda's runtimes do.
//
// A line an adapter already formatted as AWS's Python runtime does, "[LEVEL]\ttimestamp\trequestId\t
// message" (a multi-line record keeps its line breaks as '\r'), keeps its level and message; any
// other line is an INFO record. Text format: "timestamp\trequestId\tLEVEL\tmessage" (an already
// formatted line is written as it is). JSON format: {"timestamp","level","requestId","message"},
// with a multi-line record's '\r's turned back into line breaks.
type handlerLogSink struct {
	mu       sync.Mutex
	w        io.Writer
	settings logSettings
	buf      []byte
}

func newHandlerLogSink(w io.Writer, s logSettings) *handlerLogSink {
	return &handlerLogSink{w: w, settings: s}
}

// Log implements supervisor.LogSink.
func (s *handlerLogSink) Log(requestID string, line []byte) {
	level, message, formatted := parseRecord(line)
	if levelRank(level) < s.settings.handlerMin {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	b := s.buf[:0]
	switch {
	case s.settings.json:
		rec := struct {
			Timestamp string `json:"timestamp"`
			Level     string `json:"level"`
			RequestID string `json:"requestId,omitempty"`
			Message   string `json:"message"`
		}{now.Format("2006-01-02T15:04:05.000Z"), level, requestID, strings.ReplaceAll(string(message), "\r", "\n")}
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(rec) // cannot fail: strings only
		b = append(b, out.Bytes()...)
	case formatted:
		b = append(append(b, line...), '\n')
	default:
		b = now.AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, '\t')
		if requestID == "" {
			requestID = "-"
		}
		b = append(b, requestID...)
		b = append(b, '\t')
		b = append(b, level...)
		b = append(b, '\t')
		b = append(b, message...)
		b = append(b, '\n')
	}
	_, _ = s.w.Write(b)
	s.buf = b[:0]
}

// parseRecord reads a log line's level and message. formatted reports a line in AWS's Python
// runtime format, "[LEVEL]\ttimestamp\trequestId\tmessage".
func parseRecord(line []byte) (level string, message []byte, formatted bool) {
	if len(line) > 2 && line[0] == '[' {
		if end := bytes.IndexByte(line, ']'); end > 0 && end+1 < len(line) && line[end+1] == '\t' {
			if r := levelRank(string(line[1:end])); r >= 0 {
				fields := bytes.SplitN(line[end+2:], []byte{'\t'}, 3)
				if len(fields) == 3 {
					return levelName(r), fields[2], true
				}
			}
		}
	}
	return "INFO", line, false
}
