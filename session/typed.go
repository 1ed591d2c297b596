package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Typed helpers over the string values. A session holds only strings (the
// mod_session model: language-neutral, nothing to deserialize into code),
// so these just format and parse, with errors that name the key.

// ErrNoKey is returned by the typed getters when the key is not set.
var ErrNoKey = errors.New("session: key not set")

func (s *Session) typed(key string) (string, error) {
	v, ok := s.Lookup(key)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrNoKey, key)
	}
	return v, nil
}

// Int returns key as an int.
func (s *Session) Int(key string) (int, error) {
	v, err := s.typed(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("session: key %q is not an int: %w", key, err)
	}
	return n, nil
}

// SetInt stores n under key.
func (s *Session) SetInt(key string, n int) { s.Set(key, strconv.Itoa(n)) }

// Bool returns key as a bool ("true"/"false", "1"/"0").
func (s *Session) Bool(key string) (bool, error) {
	v, err := s.typed(key)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("session: key %q is not a bool: %w", key, err)
	}
	return b, nil
}

// SetBool stores b under key.
func (s *Session) SetBool(key string, b bool) { s.Set(key, strconv.FormatBool(b)) }

// Time returns key as a time (RFC 3339 with nanoseconds).
func (s *Session) Time(key string) (time.Time, error) {
	v, err := s.typed(key)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("session: key %q is not a time: %w", key, err)
	}
	return t, nil
}

// SetTime stores t under key.
func (s *Session) SetTime(key string, t time.Time) { s.Set(key, t.Format(time.RFC3339Nano)) }

// JSON decodes key into v.
func (s *Session) JSON(key string, v any) error {
	raw, err := s.typed(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("session: key %q is not valid JSON for %T: %w", key, v, err)
	}
	return nil
}

// SetJSON stores v under key as JSON.
func (s *Session) SetJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("session: key %q: %w", key, err)
	}
	s.Set(key, string(b))
	return nil
}
