package testbrowser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// PhoneWidth is the CSS width of a small phone's screen (the first
// iPhone SE's, narrower than most phones sold since).
const PhoneWidth = 320

// EmulatePhone makes the tab a phone in portrait: PhoneWidth CSS pixels
// wide, a 2x screen, the viewport meta tag honoured as on a mobile
// browser (a page without one is laid out 980 pixels wide and overflows).
func EmulatePhone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(PhoneWidth, 640, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
}

// Overflow names what reaches past the right edge of the tab's viewport
// (the page would scroll sideways): "" when everything fits, else the
// document's width and the first such element.
func Overflow(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const vw = Math.min(document.documentElement.clientWidth, screen.width); // without a viewport meta tag, the layout is wider than the screen
		const doc = document.documentElement.scrollWidth;
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.width > 0 && r.right > vw + 0.5) {
				return "document " + doc + "px wide in a " + vw + "px viewport; <" + el.tagName.toLowerCase() +
					(el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).replace(/ /g, ".") : "") +
					"> ends at " + Math.round(r.right) + "px";
			}
		}
		return doc > vw ? "document " + doc + "px wide in a " + vw + "px viewport" : "";
	})()`))
}

// Screenshot writes a PNG of the whole page in ctx to dir/name.png.
func Screenshot(ctx context.Context, dir, name string) error {
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot %s: %w", name, err)
	}
	return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
}
