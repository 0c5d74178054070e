package state

import "context"

// A Source follows one origin of cluster state (a Mesos master, a state file,
// Marathon) and hands every good view it builds to a Sink. It never knows who
// consumes the views, and it never hands on a failed or malformed fetch.
type Source interface {
	// Name identifies the source in logs and on the status page.
	Name() string
	// Run follows the origin until ctx is done. It returns ctx's error then, or an
	// error when the source cannot run at all (a bad configuration); passing
	// failures (a master down, a malformed document) are logged and retried, never
	// returned.
	Run(ctx context.Context, sink Sink) error
}

// A Sink receives the views sources build. Hub is the Sink of the daemon; tests use
// their own. Implementations must not block for long: a source calls them from its
// fetch loop.
type Sink interface {
	// PublishCluster hands on a sealed Mesos view.
	PublishCluster(*Cluster)
	// PublishApps hands on a Marathon view.
	PublishApps(*AppSet)
	// FetchFailed reports a failed fetch, for staleness and error reporting. The
	// last good view stays current.
	FetchFailed(source string, err error)
}

// A Noter is a Sink that also keeps a source's note: how it follows its
// origin when that is not the usual way (Marathon polled because its event
// stream cannot be opened), for the status page. An empty note clears it.
type Noter interface {
	SourceNote(source, note string)
}
