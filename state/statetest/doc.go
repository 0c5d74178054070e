// Package statetest holds what the tests of every source share: one recording
// Sink and one way to wait for a condition with a deadline. A source's tests
// then differ only in what they assert, never in how they watch a source, and
// no test sleeps to wait for something.
package statetest
