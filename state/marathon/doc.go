// Package marathon follows Marathon and hands its apps to a state.Sink as
// sealed state.AppSets, for the load balancer. It is the only package that
// speaks Marathon's wire formats: /v2/apps, /v2/apps/{id} and the /v2/events
// server-sent event stream.
//
// Two sources build the same AppSet: Poller fetches the whole app list every
// interval, and EventSource fetches it once per stream and then refetches
// only the apps the events name. Both speak to Marathon through the same
// client type (failover across the configured URLs, credentials, TLS) and
// decode through DecodeApps and DecodeApp, so a consumer cannot tell them
// apart; neither reaches into the other.
package marathon
