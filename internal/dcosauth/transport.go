package dcosauth

import (
	"io"
	"net/http"
)

// Transport returns a RoundTripper that sends every request through base
// with the session's token, and after a 401 logs in again and sends the
// request once more (when its body can be sent again).
func (s *Session) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{s: s, base: base}
}

type transport struct {
	s    *Session
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	token, err := t.s.Token(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(withToken(req, token))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		return resp, nil
	}
	t.s.Invalidate(token)
	again, err := t.s.Token(ctx)
	if err != nil {
		// The login's refusal says more than the server's 401.
		discard(resp)
		return nil, err
	}
	retry := withToken(req, again)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry.Body = body
	}
	discard(resp)
	return t.base.RoundTrip(retry)
}

// withToken is a copy of req carrying token: a RoundTripper must not change
// the request it was given.
func withToken(req *http.Request, token string) *http.Request {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "token="+token)
	return r
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// closeBody honours RoundTrip's contract: the request body is closed even
// when nothing was sent.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
