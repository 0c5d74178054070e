package lbsync

import (
	"reflect"
	"testing"
)

func TestParseShowProc(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ProcInfo
		wantErr bool
	}{
		{
			name: "after a failed reload",
			in: "#<PID>          <type>          <reloads>       <uptime>        <version>      \n" +
				"7517            master          2 [failed: 1]   0d00h00m03s     2.6.12-1+deb12u4\n" +
				"# workers\n" +
				"7544            worker          1               0d00h00m03s     2.6.12-1+deb12u4\n" +
				"# programs\n\n",
			want: ProcInfo{MasterPID: 7517, Reloads: 2, Failed: 1, Workers: []WorkerProc{{7544, 1}}},
		},
		{
			name: "new and old worker",
			in: "#<PID> <type> <reloads> <uptime> <version>\n" +
				"10 master 3 [failed: 0] 0d00h01m00s 2.6.12\n" +
				"# workers\n" +
				"31 worker 0 0d00h00m01s 2.6.12\n" +
				"22 worker 1 0d00h00m09s 2.6.12\n",
			want: ProcInfo{MasterPID: 10, Reloads: 3, Workers: []WorkerProc{{31, 0}, {22, 1}}},
		},
		{name: "not show proc", in: "Unknown command.\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseShowProc(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	p := ProcInfo{Workers: []WorkerProc{{22, 1}, {31, 0}}}
	if w, ok := p.CurrentWorker(); !ok || w.PID != 31 {
		t.Fatalf("CurrentWorker = %v %v, want 31", w, ok)
	}
}
