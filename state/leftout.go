package state

// LeftOut is an app or task a source left out of its view, or kept without one
// of its values, because what Mesos or Marathon sent for it was invalid (a
// port of -1 or 70000, an app without an id). Those values come from app
// authors: one bad record costs only itself, the rest of the view is used,
// and the hub reports what was left out (log, metric, status page).
type LeftOut struct {
	// ID is the app or task ID ("" when the record had none).
	ID string `json:"id"`
	// App is the Marathon app of a task left out ("" for an app, or a Mesos
	// task).
	App string `json:"app,omitempty"`
	// Reason says what was invalid and what was left out.
	Reason string `json:"reason"`
}
