package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxSamples bounds the latencies kept per measurement (8 bytes each), so a long or very fast run
// cannot grow the generator without limit; a run stops early when it reaches it.
const maxSamples = 4_000_000

// requestTimeout bounds one request; a request that takes longer counts as an error.
const requestTimeout = 30 * time.Second

// target builds the i-th request of a run (i counts from 0 across all workers).
type target func(ctx context.Context, i int64) (*http.Request, error)

// attackResult is what one closed-loop run measured.
type attackResult struct {
	Requests  int             // requests finished (ok + errors)
	Errors    int             // transport errors and non-200 answers
	ErrorKind map[string]int  // "status 502", "transport", … → count
	FirstErr  string          // the first error seen, for the report
	Elapsed   time.Duration   // from the first request to the last answer
	Bytes     int64           // response body bytes read (as sent: gzip when the server gzipped)
	Gzipped   int             // 200 answers that came with Content-Encoding: gzip
	Latencies []time.Duration // the latency of every 200 answer, sorted: an error is no page
}

// RPS is the throughput: 200 answers (pages) per second. An error answer (a quick 502, a
// redirect to the sign-in page) is no page served, so it does not count.
func (r attackResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// Quantile returns the q-quantile (0 < q ≤ 1) of the 200 answers' latencies by the nearest-rank
// method: the smallest latency that at least q of them did not exceed. 0 when there are none.
func (r attackResult) Quantile(q float64) time.Duration {
	return quantile(r.Latencies, q)
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(q*float64(n) + 0.999999999) // ceil without float surprises at exact ranks
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// attack runs a closed loop: workers goroutines each send a request, read the whole answer,
// and send the next, until dur has passed (or ctx ends, or maxSamples requests were made). Only
// 200 answers count as success. The client must not follow redirects (a redirect to the sign-in
// page is an error here, not a success).
func attack(ctx context.Context, client *http.Client, workers int, dur time.Duration, next target) (attackResult, error) {
	if workers < 1 || dur <= 0 {
		return attackResult{}, errors.New("attack: need at least one worker and a positive duration")
	}
	ctx, cancel := context.WithTimeout(ctx, dur+requestTimeout)
	defer cancel()
	var (
		seq      atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      = attackResult{ErrorKind: map[string]int{}}
		buildErr error
	)
	perWorker := maxSamples / workers
	start := time.Now()
	deadline := start.Add(dur)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, min(perWorker, 1<<14))
			var bytes int64
			gzipped, done := 0, 0
			errs := map[string]int{}
			var first string
			for done < perWorker && time.Now().Before(deadline) && ctx.Err() == nil {
				req, err := next(ctx, seq.Add(1)-1)
				if err != nil {
					mu.Lock()
					buildErr = err
					mu.Unlock()
					cancel()
					return
				}
				t0 := time.Now()
				n, gz, kind, err := roundTrip(client, req)
				d := time.Since(t0)
				if ctx.Err() != nil {
					break // interrupted: not a real answer
				}
				done++
				bytes += n
				if gz {
					gzipped++
				}
				if err != nil {
					errs[kind]++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			defer mu.Unlock()
			res.Requests += done
			res.Latencies = append(res.Latencies, lat...)
			res.Bytes += bytes
			res.Gzipped += gzipped
			for k, v := range errs {
				res.ErrorKind[k] += v
				res.Errors += v
			}
			if res.FirstErr == "" {
				res.FirstErr = first
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if buildErr != nil {
		return res, fmt.Errorf("attack: build request: %w", buildErr)
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return res, fmt.Errorf("attack: %w", err)
	}
	slices.Sort(res.Latencies)
	return res, nil
}

// roundTrip sends req and reads the body to the end; gz says a 200 answer came gzipped. kind
// names the failure for the report.
func roundTrip(client *http.Client, req *http.Request) (n int64, gz bool, kind string, err error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, false, "transport", err
	}
	n, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return n, false, "read", fmt.Errorf("read %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return n, false, fmt.Sprintf("status %d", resp.StatusCode), fmt.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	return n, resp.Header.Get("Content-Encoding") == "gzip", "", nil
}

// newLoadClient returns a client for one server with a keep-alive pool as large as the number
// of workers. It sends what the request says (no transparent gzip, so the generator does not
// spend CPU decompressing) and never follows redirects.
func newLoadClient(workers int) *http.Client {
	t := &http.Transport{
		MaxIdleConns:          workers * 2,
		MaxIdleConnsPerHost:   workers * 2,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: requestTimeout,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
