package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Requests counts the AWS API requests the emulator at baseURL has served
// since it started recording (Start turns recording on unless NoRecording).
// Calls to moto's own /moto-api/ endpoints (readiness probes, this function)
// are not counted.
//
// It reads moto's request recorder (/moto-api/recorder/download-recording),
// which logs every request a moto_server receives once recording is on.
func Requests(ctx context.Context, baseURL string) (int, error) {
	u := strings.TrimRight(baseURL, "/") + "/moto-api/recorder/download-recording"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("building request log query: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading the emulator's request log: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("reading the emulator's request log: HTTP %d (is recording on? localaws.Start turns it on unless Options.NoRecording)", resp.StatusCode)
	}
	return countRequests(resp.Body)
}

// countRequests counts the recorder's JSON lines whose path is not /moto-api/.
func countRequests(r io.Reader) (int, error) {
	dec := json.NewDecoder(r)
	n := 0
	for {
		var entry struct {
			URL string `json:"url"`
		}
		if err := dec.Decode(&entry); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, fmt.Errorf("decoding the emulator's request log: %w", err)
		}
		if p, err := url.Parse(entry.URL); err == nil && strings.HasPrefix(p.Path, "/moto-api/") {
			continue
		}
		n++
	}
}
