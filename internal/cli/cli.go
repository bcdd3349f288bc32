// Package cli is how fastpixctl's subcommands declare their flags: a
// required flag may default to an environment variable (the one the
// functions read, or a stack output's), and every required flag left
// empty is named at once, so a first run says all that is missing.
package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Command is one subcommand's flags.
type Command struct {
	*flag.FlagSet
	needed []needed
}

type needed struct {
	name, env, where string
	value            *string
}

// New is the flags of the subcommand name; parse errors are returned, not
// fatal.
func New(name string) *Command {
	return &Command{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
}

// Need declares a required string flag, defaulting to the environment
// variable env when env is not "". where, when not "", says where its
// value is found (a stack output), and is said with it when it is missing.
func (c *Command) Need(name, env, where, usage string) *string {
	def := ""
	if env != "" {
		def = os.Getenv(env)
		usage += " (" + env + ")"
	}
	v := c.String(name, def, usage+"; required")
	c.needed = append(c.needed, needed{name: name, env: env, where: where, value: v})
	return v
}

// Parse parses args and checks that every required flag has a value:
// "<command>: required: -a (or A), -b".
func (c *Command) Parse(args []string) error {
	if err := c.FlagSet.Parse(args); err != nil {
		return err
	}
	var missing []string
	for _, f := range c.needed {
		if *f.value != "" {
			continue
		}
		var or []string
		if f.env != "" {
			or = append(or, f.env)
		}
		if f.where != "" {
			or = append(or, f.where)
		}
		m := "-" + f.name
		if len(or) > 0 {
			m += " (or " + strings.Join(or, ", ") + ")"
		}
		missing = append(missing, m)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: required: %s", c.Name(), strings.Join(missing, ", "))
	}
	return nil
}
