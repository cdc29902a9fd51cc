package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// envRequireChromium makes the browser test fail instead of skip when no
// Chromium is installed (.ci/run sets it after `make chromium`).
const envRequireChromium = "SHARDBRIDGE_REQUIRE_CHROMIUM"

// `chaos run baseline --html FILE` writes a page that a real browser opens
// with every chart drawn and no console error; the screenshot is kept under
// .artifacts/ for CI.
func TestHTMLReportInABrowser(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv(envRequireChromium) != "" {
			t.Fatalf("%s is set but no chromium is installed (make chromium)", envRequireChromium)
		}
		t.Skip("no chromium (make chromium installs it)")
	}
	page := filepath.Join(t.TempDir(), "baseline.html")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "baseline", "--seed", "7", "--in-process", "--html", page}, &stdout, &stderr); code != 0 {
		t.Fatalf("chaos run baseline: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.WindowSize(1050, 1500))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var consoleErrors []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == "error" {
				consoleErrors = append(consoleErrors, fmt.Sprint(e.Args))
			}
		}
	}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("browser: open the page: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitVisible(`svg[data-chart="leases"]`)); err != nil {
		t.Fatalf("browser: the lease chart never showed: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if err != nil {
			t.Fatalf("browser: count %s: %v", sel, err)
		}
		return n
	}
	charts, series, markers, leases := count(`svg.chart`), count(`svg.chart polyline.series`), count(`svg.chart g.fault`), count(`svg[data-chart="leases"] rect.lease`)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatalf("browser: screenshot: %v", err)
	}
	if err := os.MkdirAll("../../../.artifacts", 0o755); err == nil {
		_ = os.WriteFile("../../../.artifacts/report-baseline.png", shot, 0o644)
	}
	// baseline: one instance, no faults; acknowledged and replicated, p50
	// and p99, and a lag line per shard.
	if !strings.HasPrefix(title, "baseline") || charts != 5 || series < 5 || leases == 0 {
		t.Errorf("title %q, %d charts (want 5), %d series (want ≥ 5), %d lease spans", title, charts, series, leases)
	}
	if markers != 0 {
		t.Errorf("%d fault markers in a run without faults", markers)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors: %v", consoleErrors)
	}
}
