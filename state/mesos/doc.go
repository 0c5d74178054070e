// Package mesos follows a Mesos cluster and hands its state to a state.Sink
// as sealed state.Clusters. It is the only package that speaks Mesos's wire
// formats and imports mesos-go.
//
// Three sources build the same Cluster from three origins: Poller fetches the
// leading master's /master/state, Stream follows the v1 operator API's event
// stream (falling back to polling on masters without it), and FileSource
// reads a state document from disk. Whatever the origin, a view goes through
// the one state decoder (Decoder, built to decode a 100,000-task state as it
// is read, into the slim types) or, for the stream, the one conversion from
// v1 objects, so that consumers cannot tell the sources apart.
//
// Who leads is decided in one place: a leader follower that both network
// sources share keeps the static masters list and ZooKeeper's view (ZKDetector
// watches the Mesos election) and orders the masters to ask. The HTTP client
// (TLS, credentials, redirects handled by the caller) and the bounded body
// readers are Mesos's alone and live here too.
package mesos
