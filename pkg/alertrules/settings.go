package alertrules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxGrace is the longest grace: SQS delays a message by at most 15
// minutes, and a held disconnect is a delayed message.
const MaxGrace = 900 * time.Second

// The environment variables the settings are read from.
const (
	EnvGraceSeconds      = "DISCONNECT_GRACE_SECONDS"
	EnvFlapThreshold     = "FLAP_THRESHOLD"
	EnvFlapWindowMinutes = "FLAP_WINDOW_MINUTES"
)

// ErrSettings: a setting is out of its range or not a whole number.
var ErrSettings = errors.New("alertrules: invalid settings")

// Settings are the rules' knobs.
type Settings struct {
	// Grace is how long a disconnect is held, by event time, before it is
	// alerted: a reconnection within it is a brief drop. 0 alerts every
	// disconnect at once. At most MaxGrace.
	Grace time.Duration
	// FlapThreshold is how many brief drops within FlapWindow make a stream
	// unstable; 0 never calls a stream unstable.
	FlapThreshold int
	// FlapWindow is the window brief drops are counted in, and the least
	// time between two unstable alerts of one stream.
	FlapWindow time.Duration
}

// Defaults are the template's defaults: a 30 s grace, 3 brief drops in 10
// minutes.
func Defaults() Settings {
	return Settings{Grace: 30 * time.Second, FlapThreshold: 3, FlapWindow: 10 * time.Minute}
}

// Validate reports a setting out of range.
func (s Settings) Validate() error {
	switch {
	case s.Grace < 0 || s.Grace > MaxGrace:
		return fmt.Errorf("%w: grace %s is not between 0 and %s", ErrSettings, s.Grace, MaxGrace)
	case s.FlapThreshold < 0:
		return fmt.Errorf("%w: flap threshold %d is negative", ErrSettings, s.FlapThreshold)
	case s.FlapThreshold > MaxDrops:
		return fmt.Errorf("%w: flap threshold %d is over %d", ErrSettings, s.FlapThreshold, MaxDrops)
	case s.FlapWindow <= 0 && s.FlapThreshold > 0:
		return fmt.Errorf("%w: flap window %s must be positive", ErrSettings, s.FlapWindow)
	}
	return nil
}

// SettingsFromEnv reads the settings from the environment (getenv is
// os.Getenv in a function), each unset one at its default. A malformed or
// out-of-range value is an error naming the variable, so a cold start stops
// rather than alerting by rules nobody chose.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Defaults()
	whole := func(name string, min, max int) (int, bool, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			return 0, false, fmt.Errorf("%w: %s=%q: want a whole number from %d to %d", ErrSettings, name, v, min, max)
		}
		return n, true, nil
	}
	if n, ok, err := whole(EnvGraceSeconds, 0, int(MaxGrace/time.Second)); err != nil {
		return Settings{}, err
	} else if ok {
		s.Grace = time.Duration(n) * time.Second
	}
	if n, ok, err := whole(EnvFlapThreshold, 0, MaxDrops); err != nil {
		return Settings{}, err
	} else if ok {
		s.FlapThreshold = n
	}
	if n, ok, err := whole(EnvFlapWindowMinutes, 1, 24*60); err != nil {
		return Settings{}, err
	} else if ok {
		s.FlapWindow = time.Duration(n) * time.Minute
	}
	return s, s.Validate()
}
