package main

import "testing"

// The banner's make demo and make ctl-local lines carry the ports the stack
// was started on: without them they would look for a stack on the default
// ports (another engineer's, or none).
func TestPortsPrefixCarriesTheStacksPorts(t *testing.T) {
	t.Setenv("PORT", "")
	t.Setenv("DYNAMODB_PORT", "")
	t.Setenv("SNS_PORT", "")
	if got := portsPrefix(); got != "" {
		t.Errorf("default ports: prefix %q, want none", got)
	}
	t.Setenv("PORT", "8321")
	t.Setenv("SNS_PORT", "8323")
	if got, want := portsPrefix(), "PORT=8321 SNS_PORT=8323 "; got != want {
		t.Errorf("prefix %q, want %q", got, want)
	}
}
