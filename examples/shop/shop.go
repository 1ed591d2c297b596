// Package shop is the backend of the sessiond demo: an ordinary web shop
// that knows nothing about cookies or session IDs. The sessiond gateway
// sits in front of it and hands it the session through request headers;
// the shop asks for changes through response headers, which the gateway
// applies and strips before the client sees the response.
//
// Request headers (from the gateway; names configurable in [Config]):
//
//	X-Session: cart=1%2c3           the session data, mod_session's urlencoded form
//	X-Session-User: alice           the signed-in user, if any
//	X-Session-Ref: 7f3a…            a per-session reference (not an ID)
//	X-Session-Secure: 0|1           whether the client came over HTTPS
//	X-Session-Csrf: <token>         a fresh masked CSRF token, and the form
//	X-Session-Csrf-Field: csrf_token field to carry it in
//	X-Session-Info: transport=http&cookies=sid&partition=insecure&events=…
//	                                what the gateway did (site setting inspect);
//	                                shown in the "session inspector" panel
//
// Response headers (to the gateway):
//
//	X-Replace-Session: secure.last_order=1%2c3&cart=   merge; an empty value deletes
//	X-Session-Action: require-secure                   login user=<id> | logout | regenerate | require-secure
//
// Routes, fixed by the demo's specification so that anyone can script them:
//
//	GET  /style.css      the only stylesheet; no other assets
//	GET  /               product list; never changes the session (sessions are lazy)
//	GET  /products/{id}  product page with an add-to-cart form
//	POST /cart/add       form field product=<id>; appends to the cart, 303 to /cart
//	GET  /cart           the cart, also as a plain line "cart: 1,3"
//	GET  /checkout       the cart and a "Place order" form
//	POST /checkout       clears the cart, stores secure.last_order, shows a confirmation
//	GET  /account        the user, or a link to the gateway's /login; logout form
//	GET  /admin          403 unless the user is Config.AdminUser
//
// The gateway serves /login and /logout itself; the shop only renders the
// logout form. Whenever the gateway sends a CSRF token, every form the shop
// renders carries it as a hidden field. Only the two POST routes ever send
// X-Replace-Session. Placing an order, or opening /admin, over plain HTTP
// (X-Session-Secure: 0) is refused with 403 and X-Session-Action:
// require-secure; without the header (no gateway) the shop does not refuse.
//
// The cart is kept in the session key "cart" as comma-separated product
// IDs in the order they were added (a product added twice appears twice).
// The last order is kept in "secure.last_order", in the secure partition,
// which the gateway only reveals and accepts over HTTPS.
package shop

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/wire"
)

// Session keys the shop reads and writes.
const (
	// KeyCart holds the cart: comma-separated product IDs, e.g. "1,3".
	KeyCart = "cart"
	// KeyLastOrder holds the product IDs of the last order placed. It is
	// in the secure partition, so only an HTTPS request sees or sets it.
	KeyLastOrder = "secure.last_order"
)

// MaxCartItems is the most products a cart holds; POST /cart/add answers
// 409 Conflict beyond it, so the session stays small (it may live in a
// 4 KB cookie).
const MaxCartItems = 50

// DefaultCSRFField is the form field used for the gateway's CSRF token when
// the gateway sends a token but no field name.
const DefaultCSRFField = "csrf_token"

// maxFormBytes bounds the body of the shop's POST forms.
const maxFormBytes = 64 << 10

// Product is an item for sale.
type Product struct {
	ID          int    // numeric, ≥ 1; used in URLs (/products/{id}) and the cart
	Name        string // shown in lists and on the product page
	Description string // shown on the product page
	PriceCents  int    // price in cents
}

// Price formats the price, e.g. "12.50".
func (p Product) Price() string {
	return fmt.Sprintf("%d.%02d", p.PriceCents/100, p.PriceCents%100)
}

// DefaultProducts returns the demo's products, IDs 1 to 4. Each call
// returns a new slice.
func DefaultProducts() []Product {
	return []Product{
		{ID: 1, Name: "Session Mug", Description: "Holds 350 ml of coffee, and no session IDs.", PriceCents: 1250},
		{ID: 2, Name: "Cookie Jar", Description: "HttpOnly, SameSite=Lax, and airtight.", PriceCents: 1990},
		{ID: 3, Name: "Padlock T-shirt", Description: "Cotton, with a green padlock over the heart.", PriceCents: 2400},
		{ID: 4, Name: "Key Ring", Description: "The first key encrypts, all of them open.", PriceCents: 700},
	}
}

// Config configures the shop. The zero value is a working demo shop with
// the gateway's default header names.
type Config struct {
	// Name is the site title shown on every page; default "shop".
	Name string
	// Products are the items for sale; default [DefaultProducts]. IDs must
	// be ≥ 1 and unique ([New] panics otherwise).
	Products []Product

	// Headers names the headers shared with the gateway; empty names
	// are package wire's defaults.
	Headers wire.Headers

	// SniffedPath, if set, is linked from every page of a mixed-mode site
	// as "Attacker's view" (the demo serves it in front of the gateway).
	SniffedPath string

	// AdminUser is the only user who may open /admin; default "admin".
	AdminUser string

	// Logger receives warnings about bad input from the gateway, such as
	// malformed session data; default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Name, "shop")
	c.Headers = c.Headers.WithDefaults()
	def(&c.AdminUser, "admin")
	if len(c.Products) == 0 {
		c.Products = DefaultProducts()
	} else {
		c.Products = slices.Clone(c.Products)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

type shop struct {
	cfg  Config
	byID map[int]Product
}

// New returns the shop's handler. It panics if a product has an ID below 1
// or two products share an ID, as these are programming errors.
func New(cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	s := &shop{cfg: cfg, byID: make(map[int]Product, len(cfg.Products))}
	for _, p := range cfg.Products {
		if p.ID < 1 {
			panic(fmt.Sprintf("shop: product %q has ID %d; IDs must be ≥ 1", p.Name, p.ID))
		}
		if _, dup := s.byID[p.ID]; dup {
			panic(fmt.Sprintf("shop: product ID %d is used twice", p.ID))
		}
		s.byID[p.ID] = p
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /style.css", serveStyle)
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /products/{id}", s.product)
	mux.HandleFunc("POST /cart/add", s.cartAdd)
	mux.HandleFunc("GET /cart", s.cart)
	mux.HandleFunc("GET /checkout", s.checkout)
	mux.HandleFunc("POST /checkout", s.placeOrder)
	mux.HandleFunc("GET /account", s.account)
	mux.HandleFunc("GET /admin", s.admin)
	// Other paths get net/http's 404, and other methods its 405 with an
	// Allow header: a GET to POST /cart/add changes nothing.
	return mux
}

// csrfField is the hidden form field the gateway asked for.
type csrfField struct{ Name, Value string }

// view is what every page template gets.
type view struct {
	Site   string
	Title  string
	Page   string     // the page's name, for <body id="page-…">
	User   string     // X-Session-User, "" when anonymous
	Ref    string     // X-Session-Ref
	Secure string     // "1", "0", or "unknown" when the header is absent or odd
	CSRF   *csrfField // nil when the gateway sent no token

	data map[string]string // decoded X-Session

	// From X-Session-Info (nil without it) and what follows from it.
	Info        *info
	SessionsOn  bool   // false when the gateway says sessions are off here
	HTTPHome    string // the site's plain-HTTP home, linked from HTTPS pages of a mixed site
	SniffedLink string // Config.SniffedPath on a mixed-mode site
	VisibleText string // what the backend can see of the session, in words

	// Page-specific fields.
	Products  []Product
	Product   Product
	Cart      []Product
	CartLine  string // "1,3"
	LastOrder string // secure.last_order, "1,3"
	Order     string // the order just placed
	Message   string
}

// newView reads what the gateway sent. Malformed session data is decoded
// as far as possible and logged; it never fails the request.
func (s *shop) newView(r *http.Request, title string) *view {
	h := r.Header
	v := &view{
		Site:   s.cfg.Name,
		Title:  title,
		User:   h.Get(s.cfg.Headers.User),
		Ref:    h.Get(s.cfg.Headers.Ref),
		Secure: "unknown",
	}
	switch sec := h.Get(s.cfg.Headers.Secure); sec {
	case "0", "1":
		v.Secure = sec
	}
	if tok := h.Get(s.cfg.Headers.CSRF); tok != "" {
		name := h.Get(s.cfg.Headers.CSRFField)
		if name == "" {
			name = DefaultCSRFField
		}
		v.CSRF = &csrfField{Name: name, Value: tok}
	}
	data, err := wire.DecodeValues(h.Get(s.cfg.Headers.Session))
	if err != nil {
		s.cfg.Logger.Warn("shop: malformed session header; using what could be decoded",
			"header", s.cfg.Headers.Session, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	v.data = data
	v.SessionsOn = true
	if raw := h.Get(s.cfg.Headers.Info); raw != "" {
		v.Info = parseInfo(raw, time.Now())
		v.SessionsOn = v.Info.Sessions != "off"
		if v.Info.Mode == "mixed" {
			if v.Info.Transport == "https" && v.Info.HTTPOrigin != "" {
				v.HTTPHome = v.Info.HTTPOrigin + "/"
			}
			v.SniffedLink = s.cfg.SniffedPath
		}
	}
	v.VisibleText = visibleText(data)
	return v
}

// cartIDs returns the cart's product IDs, skipping (and logging) entries
// that are not known products.
func (s *shop) cartIDs(r *http.Request, v *view) []int {
	return s.parseIDs(r, KeyCart, v.data[KeyCart])
}

func (s *shop) parseIDs(r *http.Request, key, val string) []int {
	if val == "" {
		return nil
	}
	var ids []int
	bad := 0
	for f := range strings.SplitSeq(val, ",") {
		id, err := strconv.Atoi(f)
		if _, ok := s.byID[id]; err != nil || !ok {
			bad++
			continue
		}
		ids = append(ids, id)
	}
	if bad > 0 {
		s.cfg.Logger.Warn("shop: skipped unknown product IDs in session",
			"key", key, "skipped", bad, "path", r.URL.Path)
	}
	return ids
}

func joinIDs(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(id))
	}
	return b.String()
}

// setCart fills the view's cart fields from ids.
func (s *shop) setCart(v *view, ids []int) {
	v.CartLine = joinIDs(ids)
	v.Cart = make([]Product, len(ids))
	for i, id := range ids {
		v.Cart[i] = s.byID[id]
	}
}

// ReplaceHeader returns the value of an X-Replace-Session header that sets
// the keys in set and deletes the keys in del ("k=v&gone="): see
// [wire.Changes.Encode].
func ReplaceHeader(set map[string]string, del ...string) string {
	return wire.Changes{Set: set, Delete: del}.Encode()
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r, "Products")
	v.Products = s.cfg.Products
	s.render(w, r, "home", http.StatusOK, v)
}

// lookup returns the product named by the path value or form value raw.
func (s *shop) lookup(raw string) (Product, bool) {
	id, err := strconv.Atoi(raw)
	if err != nil || strconv.Itoa(id) != raw { // refuse "+1", "01"
		return Product{}, false
	}
	p, ok := s.byID[id]
	return p, ok
}

func (s *shop) product(w http.ResponseWriter, r *http.Request) {
	p, ok := s.lookup(r.PathValue("id"))
	if !ok {
		s.fail(w, r, nil, http.StatusNotFound, "There is no such product.")
		return
	}
	v := s.newView(r, p.Name)
	v.Product = p
	s.render(w, r, "product", http.StatusOK, v)
}

// postForm parses a POST body of bounded size. It answers the request
// itself and returns false on error.
func (s *shop) postForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		code, msg := http.StatusBadRequest, "The form could not be read."
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code, msg = http.StatusRequestEntityTooLarge, "The form is too large."
		}
		s.cfg.Logger.Info("shop: unreadable form", "path", r.URL.Path, "err", err)
		s.fail(w, r, nil, code, msg)
		return false
	}
	return true
}

func (s *shop) cartAdd(w http.ResponseWriter, r *http.Request) {
	if !s.postForm(w, r) {
		return
	}
	raw := r.PostForm.Get("product") // the body only, never the URL query
	if raw == "" {
		s.fail(w, r, nil, http.StatusBadRequest, "Missing form field \"product\": say which product to add.")
		return
	}
	p, ok := s.lookup(raw)
	if !ok {
		s.fail(w, r, nil, http.StatusBadRequest, fmt.Sprintf("Unknown product %q: nothing was added to the cart.", raw))
		return
	}
	v := s.newView(r, "Cart")
	if s.sessionsOff(w, r, v) {
		return
	}
	ids := s.cartIDs(r, v)
	if len(ids) >= MaxCartItems {
		s.fail(w, r, v, http.StatusConflict, fmt.Sprintf("Your cart is full (%d items): nothing was added.", MaxCartItems))
		return
	}
	ids = append(ids, p.ID)
	w.Header().Set(s.cfg.Headers.Replace, ReplaceHeader(map[string]string{KeyCart: joinIDs(ids)}))
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// sessionsOff answers a session route on a site without sessions: there
// is no cart, checkout or account here. It reports whether it answered.
func (s *shop) sessionsOff(w http.ResponseWriter, r *http.Request, v *view) bool {
	if v.SessionsOn {
		return false
	}
	s.fail(w, r, v, http.StatusNotFound, "There is no cart, checkout or account on this site: sessions are off here.")
	return true
}

func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r, "Cart")
	if s.sessionsOff(w, r, v) {
		return
	}
	s.setCart(v, s.cartIDs(r, v))
	s.render(w, r, "cart", http.StatusOK, v)
}

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r, "Checkout")
	if s.sessionsOff(w, r, v) {
		return
	}
	s.setCart(v, s.cartIDs(r, v))
	v.LastOrder = joinIDs(s.parseIDs(r, KeyLastOrder, v.data[KeyLastOrder]))
	s.render(w, r, "checkout", http.StatusOK, v)
}

// placeOrder moves the cart into secure.last_order. Over plain HTTP (the
// gateway says X-Session-Secure: 0) it refuses and asks the gateway for
// HTTPS: the gateway would drop the secure.* key, losing the order.
func (s *shop) placeOrder(w http.ResponseWriter, r *http.Request) {
	if !s.postForm(w, r) {
		return
	}
	v := s.newView(r, "Order placed")
	if v.Secure == "0" {
		w.Header().Set(s.cfg.Headers.Action, wire.ActionRequireSecure)
		s.fail(w, r, v, http.StatusForbidden, "Checkout needs a secure (HTTPS) connection: nothing was ordered.")
		return
	}
	ids := s.cartIDs(r, v)
	if len(ids) == 0 {
		s.fail(w, r, v, http.StatusBadRequest, "Your cart is empty: there is nothing to order.")
		return
	}
	v.Order = joinIDs(ids)
	s.setCart(v, ids)
	w.Header().Set(s.cfg.Headers.Replace, ReplaceHeader(map[string]string{KeyLastOrder: v.Order}, KeyCart))
	s.render(w, r, "ordered", http.StatusOK, v)
}

func (s *shop) account(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r, "Account")
	if s.sessionsOff(w, r, v) {
		return
	}
	s.render(w, r, "account", http.StatusOK, v)
}

// admin lets only Config.AdminUser in. An admin over plain HTTP (which a
// gateway should not allow) is refused too, with a require-secure action.
func (s *shop) admin(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r, "Admin")
	if v.User == "" || v.User != s.cfg.AdminUser {
		s.fail(w, r, v, http.StatusForbidden, "Only the administrator may open this page.")
		return
	}
	if v.Secure == "0" {
		w.Header().Set(s.cfg.Headers.Action, wire.ActionRequireSecure)
		s.fail(w, r, v, http.StatusForbidden, "The admin page needs a secure (HTTPS) connection.")
		return
	}
	v.Products = s.cfg.Products
	s.render(w, r, "admin", http.StatusOK, v)
}
