package state

// AppDigest identifies one app's content: the digests an AppSet's Digest
// combines. Consumers that derive something per app (the load balancer's
// model) keep their result by it and redo only the apps whose digest changed.
func AppDigest(a *App) uint64 { return appDigest(a) }
