// Package proof holds system-level proofs of the receiver: tests that drive
// the real webhook handler, the real ingest.Receiver and the real
// eventstore.DynamoDB against DynamoDB Local, under hostile input and under
// faults (the store killed mid-burst), and count what reaches the table and
// how many requests reach AWS per event.
//
// It has no code of its own beyond this file: everything is in _test.go
// files, so nothing here can end up in a Lambda binary. The proofs that need
// the notifier (the storm, the SNS failure, the leak check over SNS
// messages) belong here too, beside these, sharing the harness in
// harness_test.go.
//
// `make test` runs these tests; `make soak` runs the long variants
// (PROOF_SOAK=1), and `make bench` the benchmarks recorded in BENCHMARKS.md.
package proof
