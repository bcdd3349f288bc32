// Package app holds, one package per function, how each Lambda is
// assembled: its Config, read from the environment and validated, and New,
// which builds the handler from it. The Lambdas' main packages, the local
// stack (make run) and fastpixctl all build the functions through these
// constructors, so a setting or a dependency is added in one place.
package app
