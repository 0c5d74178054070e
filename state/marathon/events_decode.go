package marathon

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// EventTypes are the event types the event source asks Marathon for
// (repeated event_type= parameters of /v2/events): what changes the tasks,
// health, definitions and deployments of apps, plus the attach and detach
// notices its watchdog uses to prove a quiet stream alive. Pod events
// (instance_changed_event, instance_health_changed_event) duplicate the app
// ones for apps and are left out; the decoder still understands them.
var EventTypes = []string{
	"status_update_event",
	"health_status_changed_event",
	"api_post_event",
	"app_terminated_event",
	"deployment_info",
	"deployment_success",
	"deployment_failed",
	"deployment_step_success",
	"deployment_step_failure",
	"event_stream_attached",
	"event_stream_detached",
}

// marathonEventAction is what one event asks of the event source.
type marathonEventAction int

const (
	// actIgnore: nothing to do beyond proving the stream alive.
	actIgnore marathonEventAction = iota
	// actRefetch: refetch the apps in AppIDs.
	actRefetch
	// actTaskGone: TaskID of AppIDs[0] reached a terminal state; Marathon has
	// dropped it, so can we, without a fetch.
	actTaskGone
	// actAppGone: AppIDs[0] no longer exists.
	actAppGone
	// actResync: the event concerns apps it does not name; fetch them all.
	actResync
)

// marathonEvent is a decoded Marathon event, reduced to what the event source
// acts on.
type marathonEvent struct {
	Type   string
	Action marathonEventAction
	AppIDs []string
	TaskID string
	State  string
}

// terminalTaskStates are the Mesos task states after which Marathon drops a
// task from its app. TASK_LOST, TASK_UNREACHABLE and TASK_UNKNOWN tasks stay
// listed (with that state), so they are refetched instead.
var terminalTaskStates = map[string]bool{
	"TASK_FINISHED": true, "TASK_FAILED": true, "TASK_KILLED": true, "TASK_ERROR": true,
	"TASK_DROPPED": true, "TASK_GONE": true, "TASK_GONE_BY_OPERATOR": true,
}

// marathonEventWire holds the fields of every event type the source acts on.
type marathonEventWire struct {
	EventType     string `json:"eventType"`
	AppID         string `json:"appId"`
	RunSpecID     string `json:"runSpecId"`
	TaskID        string `json:"taskId"`
	InstanceID    string `json:"instanceId"`
	TaskStatus    string `json:"taskStatus"`
	URI           string `json:"uri"`
	AppDefinition *struct {
		ID string `json:"id"`
	} `json:"appDefinition"`
	Plan *struct {
		Steps []marathonStepWire `json:"steps"`
	} `json:"plan"`
	CurrentStep *marathonStepWire `json:"currentStep"`
}

type marathonStepWire struct {
	Actions []struct {
		App string `json:"app"`
	} `json:"actions"`
}

// decodeMarathonEvent turns one server-sent event from /v2/events into what
// the source must do. typ is the SSE event name (Marathon names events by their
// eventType); the payload's eventType is used when the SSE name is "message".
// Malformed JSON, or an event that names its app in none of the places Marathon
// puts it, is an error: the caller counts it and resynchronises.
func decodeMarathonEvent(typ string, data []byte) (marathonEvent, error) {
	var w marathonEventWire
	if err := json.Unmarshal(data, &w); err != nil {
		return marathonEvent{Type: typ}, fmt.Errorf("decoding %s event: %w", typ, err)
	}
	if typ == "" || typ == "message" {
		typ = w.EventType
	}
	ev := marathonEvent{Type: typ}
	app := func(ids ...string) (marathonEvent, error) {
		for _, id := range ids {
			if id != "" {
				ev.AppIDs = []string{normaliseAppID(id)}
				return ev, nil
			}
		}
		return ev, fmt.Errorf("decoding %s event: no app id", typ)
	}
	switch typ {
	case "status_update_event":
		ev.TaskID, ev.State = w.TaskID, w.TaskStatus
		if terminalTaskStates[w.TaskStatus] && w.TaskID != "" {
			ev.Action = actTaskGone
		} else {
			ev.Action = actRefetch
		}
		return app(w.AppID)
	case "health_status_changed_event", "unhealthy_task_kill_event", "unhealthy_instance_kill_event",
		"failed_health_check_event":
		ev.Action = actRefetch
		ev.TaskID = cmp.Or(w.TaskID, w.InstanceID)
		return app(w.AppID, w.RunSpecID)
	case "instance_changed_event", "instance_health_changed_event":
		ev.Action = actRefetch
		ev.TaskID = w.InstanceID
		return app(w.RunSpecID, w.AppID)
	case "app_terminated_event":
		ev.Action = actAppGone
		return app(w.AppID)
	case "api_post_event":
		ev.Action = actRefetch
		if w.AppDefinition != nil && w.AppDefinition.ID != "" {
			return app(w.AppDefinition.ID)
		}
		if id, ok := appIDFromURI(w.URI); ok {
			return app(id)
		}
		// A change Marathon names no app for (a group, a bulk update).
		ev.Action = actResync
		return ev, nil
	case "deployment_info", "deployment_success", "deployment_failed",
		"deployment_step_success", "deployment_step_failure":
		ev.Action = actRefetch
		var steps []marathonStepWire
		if w.Plan != nil {
			steps = append(steps, w.Plan.Steps...)
		}
		if w.CurrentStep != nil {
			steps = append(steps, *w.CurrentStep)
		}
		for _, st := range steps {
			for _, a := range st.Actions {
				if a.App != "" {
					ev.AppIDs = append(ev.AppIDs, normaliseAppID(a.App))
				}
			}
		}
		if len(ev.AppIDs) == 0 {
			if w.Plan == nil && w.CurrentStep == nil {
				return ev, fmt.Errorf("decoding %s event: no plan", typ)
			}
			return ev, nil // a deployment of pods only
		}
		slices.Sort(ev.AppIDs)
		ev.AppIDs = slices.Compact(ev.AppIDs)
		return ev, nil
	}
	return ev, nil // attach/detach notices and types not asked for
}

// normaliseAppID gives an app id Marathon's absolute form, "/group/app".
func normaliseAppID(id string) string {
	id = strings.TrimRight(id, "/")
	if !strings.HasPrefix(id, "/") {
		id = "/" + id
	}
	return id
}

// appIDFromURI finds the app id in an api_post_event's uri, "/v2/apps/group/app"
// (possibly followed by "/restart" and the like, which Marathon does not post).
func appIDFromURI(uri string) (string, bool) {
	uri, _, _ = strings.Cut(uri, "?")
	for _, prefix := range []string{"/v2/apps/", "/v1/apps/"} {
		if id, ok := strings.CutPrefix(uri, prefix); ok && strings.Trim(id, "/") != "" {
			return id, true
		}
	}
	return "", false
}
