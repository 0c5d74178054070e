package marathon

import (
	"slices"
	"testing"
)

// The payloads are in the shapes Marathon 1.x sends (see Marathon's event bus
// documentation); fields the decoder does not read are kept to show it ignores
// them.
func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		data    string
		want    marathonEvent
		wantErr bool
	}{
		{"task running", "status_update_event",
			`{"eventType":"status_update_event","timestamp":"2014-03-01T23:29:30.158Z","slaveId":"20140909-054127-177048842-5050-1494-0","taskId":"my-app_0-1396592784349","taskStatus":"TASK_RUNNING","appId":"/my-app","host":"slave-1234.acme.org","ports":[31372],"ipAddresses":[{"ipAddress":"127.0.0.2","protocol":"IPv4"}],"version":"2014-04-04T06:26:23.051Z"}`,
			marathonEvent{Type: "status_update_event", Action: actRefetch, AppIDs: []string{"/my-app"}, TaskID: "my-app_0-1396592784349", State: "TASK_RUNNING"}, false},
		{"task killed", "status_update_event",
			`{"eventType":"status_update_event","taskId":"t1","taskStatus":"TASK_KILLED","appId":"/g/a"}`,
			marathonEvent{Type: "status_update_event", Action: actTaskGone, AppIDs: []string{"/g/a"}, TaskID: "t1", State: "TASK_KILLED"}, false},
		{"task gone by operator", "status_update_event",
			`{"taskId":"t1","taskStatus":"TASK_GONE_BY_OPERATOR","appId":"/a"}`,
			marathonEvent{Type: "status_update_event", Action: actTaskGone, AppIDs: []string{"/a"}, TaskID: "t1", State: "TASK_GONE_BY_OPERATOR"}, false},
		{"task lost stays listed", "status_update_event",
			`{"taskId":"t1","taskStatus":"TASK_LOST","appId":"/a"}`,
			marathonEvent{Type: "status_update_event", Action: actRefetch, AppIDs: []string{"/a"}, TaskID: "t1", State: "TASK_LOST"}, false},
		{"relative app id", "status_update_event",
			`{"taskId":"t1","taskStatus":"TASK_STAGING","appId":"a/b/"}`,
			marathonEvent{Type: "status_update_event", Action: actRefetch, AppIDs: []string{"/a/b"}, TaskID: "t1", State: "TASK_STAGING"}, false},
		{"status without app", "status_update_event", `{"taskId":"t1","taskStatus":"TASK_RUNNING"}`, marathonEvent{}, true},
		{"health", "health_status_changed_event",
			`{"eventType":"health_status_changed_event","timestamp":"2014-03-01T23:29:30.158Z","appId":"/my-app","taskId":"my-app_0-1396592784349","instanceId":"my-app.marathon-1","version":"2014-04-04T06:26:23.051Z","alive":true}`,
			marathonEvent{Type: "health_status_changed_event", Action: actRefetch, AppIDs: []string{"/my-app"}, TaskID: "my-app_0-1396592784349"}, false},
		{"instance health", "instance_health_changed_event",
			`{"instanceId":"a.marathon-1","runSpecId":"/a","runSpecVersion":"v","healthy":false}`,
			marathonEvent{Type: "instance_health_changed_event", Action: actRefetch, AppIDs: []string{"/a"}, TaskID: "a.marathon-1"}, false},
		{"instance changed", "instance_changed_event",
			`{"instanceId":"a.marathon-1","condition":"Running","runSpecId":"/a","agentId":"s1","host":"h","runSpecVersion":"v"}`,
			marathonEvent{Type: "instance_changed_event", Action: actRefetch, AppIDs: []string{"/a"}, TaskID: "a.marathon-1"}, false},
		{"app posted", "api_post_event",
			`{"eventType":"api_post_event","clientIp":"0:0:0:0:0:0:0:1","uri":"/v2/apps/my-app","appDefinition":{"id":"/my-app","cmd":"sleep 30","instances":2,"ports":[10001]}}`,
			marathonEvent{Type: "api_post_event", Action: actRefetch, AppIDs: []string{"/my-app"}}, false},
		{"app posted, id from uri", "api_post_event", `{"uri":"/v2/apps/g/x"}`,
			marathonEvent{Type: "api_post_event", Action: actRefetch, AppIDs: []string{"/g/x"}}, false},
		{"group posted", "api_post_event", `{"uri":"/v2/groups/g"}`,
			marathonEvent{Type: "api_post_event", Action: actResync}, false},
		{"app terminated", "app_terminated_event", `{"appId":"/a","eventType":"app_terminated_event"}`,
			marathonEvent{Type: "app_terminated_event", Action: actAppGone, AppIDs: []string{"/a"}}, false},
		{"deployment info, light plan", "deployment_info",
			`{"plan":{"id":"d1","steps":[{"actions":[{"action":"ScaleApplication","app":"/b"}]},{"actions":[{"action":"RestartApplication","app":"/a"},{"action":"StartPod","pod":"/p"}]}],"version":"v"},"currentStep":{"actions":[{"action":"ScaleApplication","app":"/b"}]},"eventType":"deployment_info"}`,
			marathonEvent{Type: "deployment_info", Action: actRefetch, AppIDs: []string{"/a", "/b"}}, false},
		{"deployment success", "deployment_success",
			`{"id":"d1","plan":{"id":"d1","original":{"id":"/","apps":[]},"target":{"id":"/"},"steps":[{"actions":[{"action":"StopApplication","app":"/a"}]}]}}`,
			marathonEvent{Type: "deployment_success", Action: actRefetch, AppIDs: []string{"/a"}}, false},
		{"deployment of pods only", "deployment_step_success", `{"currentStep":{"actions":[{"action":"StartPod","pod":"/p"}]}}`,
			marathonEvent{Type: "deployment_step_success", Action: actRefetch}, false},
		{"deployment without plan", "deployment_failed", `{"id":"d1"}`, marathonEvent{}, true},
		{"type from payload", "message", `{"eventType":"app_terminated_event","appId":"/a"}`,
			marathonEvent{Type: "app_terminated_event", Action: actAppGone, AppIDs: []string{"/a"}}, false},
		{"attached", "event_stream_attached", `{"remoteAddress":"127.0.0.1","eventType":"event_stream_attached"}`,
			marathonEvent{Type: "event_stream_attached", Action: actIgnore}, false},
		{"unknown type", "framework_message_event", `{"message":"aGk="}`,
			marathonEvent{Type: "framework_message_event", Action: actIgnore}, false},
		{"not JSON", "status_update_event", `{"taskId":`, marathonEvent{}, true},
		{"JSON but not an object", "status_update_event", `[1,2]`, marathonEvent{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMarathonEvent(tt.typ, []byte(tt.data))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.want.Type || got.Action != tt.want.Action || !slices.Equal(got.AppIDs, tt.want.AppIDs) ||
				got.TaskID != tt.want.TaskID || got.State != tt.want.State {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeEvent checks that no payload panics the decoder and that
// what it returns can be acted on: app ids are absolute, and the actions that
// name one app have one.
func FuzzDecodeEvent(f *testing.F) {
	f.Add("status_update_event", `{"taskId":"t","taskStatus":"TASK_KILLED","appId":"/a"}`)
	f.Add("deployment_info", `{"plan":{"steps":[{"actions":[{"app":"a"}]}]},"currentStep":{"actions":[]}}`)
	f.Add("api_post_event", `{"uri":"/v2/apps//"}`)
	f.Add("message", `{"eventType":"app_terminated_event","appId":"x"}`)
	f.Fuzz(func(t *testing.T, typ, data string) {
		ev, err := decodeMarathonEvent(typ, []byte(data))
		if err != nil {
			return
		}
		for _, id := range ev.AppIDs {
			if id == "" || id[0] != '/' {
				t.Fatalf("app id %q is not absolute", id)
			}
		}
		if (ev.Action == actTaskGone || ev.Action == actAppGone) && len(ev.AppIDs) != 1 {
			t.Fatalf("%v with %d apps", ev.Action, len(ev.AppIDs))
		}
		if ev.Action == actTaskGone && ev.TaskID == "" {
			t.Fatal("task gone without a task id")
		}
	})
}
