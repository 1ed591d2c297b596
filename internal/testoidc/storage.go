package testoidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the provider's in-memory state: what op reads and writes
// through op.Storage, plus the users, the provider's browser sessions and
// the test knobs. One mutex guards it all.
type storage struct {
	mu sync.Mutex

	cfg     Config
	clients map[string]*opClient
	users   map[string]*User // by Subject

	requests map[string]*authRequest // by ID
	codes    map[string]string       // code -> request ID
	access   map[string]*accessToken // by ID
	refresh  map[string]*refreshToken
	sessions map[string]*session // provider sign-in sessions by sid

	next     []nextLogin // queued by NextUser / DenyNext
	forgery  []Forgery   // queued by ForgeNextIDToken
	delivery []Delivery  // back-channel logout POSTs sent

	// onEnd ends provider sessions (Provider.endSessions).
	onEnd func(ctx context.Context, sids []string)

	key     *rsa.PrivateKey
	keyID   string
	foreign *rsa.PrivateKey // signs tokens whose signature must not verify
}

// session is the provider's own sign-in of one browser: what its cookie
// names, and what the sid claim of ID tokens issued in it carries.
type session struct {
	sid     string
	subject string
	clients map[string]bool // clients that received tokens in this session
	ended   bool
}

type nextLogin struct {
	username string
	deny     bool
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// errNotFound is what lookups of unknown or expired IDs return; op maps it
// to the protocol error of the endpoint (invalid_grant, invalid_client...).
var errNotFound = errors.New("testoidc: not found")

func newStorage(cfg Config, loginURL string) (*storage, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	s := &storage{
		cfg:      cfg,
		clients:  map[string]*opClient{},
		users:    map[string]*User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		access:   map[string]*accessToken{},
		refresh:  map[string]*refreshToken{},
		sessions: map[string]*session{},
		key:      key,
		keyID:    rand.Text()[:12],
		foreign:  foreign,
	}
	for _, c := range cfg.Clients {
		s.clients[c.ID] = &opClient{c: c, idTTL: cfg.IDTokenLifetime, loginURL: loginURL}
	}
	for _, u := range cfg.Users {
		s.users[u.Subject] = &u
	}
	return s, nil
}

// userByName finds a user by Username (or Subject); the caller holds mu.
func (s *storage) userByName(name string) *User {
	for _, u := range s.users {
		if u.Username == name || u.Subject == name {
			return u
		}
	}
	return nil
}

// --- authorization requests and codes

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	req := &authRequest{
		id:           rand.Text(),
		clientID:     r.ClientID,
		redirectURI:  r.RedirectURI,
		state:        r.State,
		nonce:        r.Nonce,
		scopes:       withOffline(r.Scopes, s.cfg.AlwaysRefreshToken),
		responseType: r.ResponseType,
		responseMode: r.ResponseMode,
		prompt:       r.Prompt,
	}
	if r.CodeChallenge != "" {
		req.challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[req.id] = req
	return req, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.requests[id]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("auth request: %w", errNotFound)
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs once the code is redeemed: the code cannot be used
// again.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// completeLogin marks a request signed in as user in session sid.
func (s *storage) completeLogin(id, subject, sid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[id]
	if !ok {
		return fmt.Errorf("auth request: %w", errNotFound)
	}
	r.done, r.subject, r.sid, r.authTime = true, subject, sid, time.Now()
	return nil
}

// --- tokens

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.newAccessLocked(req)
	if ar, ok := req.(*authRequest); ok {
		s.joinSessionLocked(ar.sid, ar.clientID)
	}
	return at.id, at.expires, nil
}

func (s *storage) newAccessLocked(req op.TokenRequest) *accessToken {
	at := &accessToken{
		id:      rand.Text(),
		subject: req.GetSubject(),
		scopes:  req.GetScopes(),
		expires: time.Now().Add(s.cfg.AccessTokenLifetime),
	}
	if aud := req.GetAudience(); len(aud) > 0 {
		at.clientID = aud[0]
	}
	s.access[at.id] = at
	return at
}

func (s *storage) joinSessionLocked(sid, clientID string) {
	if ses := s.sessions[sid]; ses != nil {
		ses.clients[clientID] = true
	}
}

func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rt refreshToken
	switch r := req.(type) {
	case *authRequest:
		rt = refreshToken{clientID: r.clientID, subject: r.subject, sid: r.sid, scopes: r.scopes, authTime: r.authTime}
		s.joinSessionLocked(r.sid, r.clientID)
	case *refreshRequest:
		old, ok := s.refresh[current]
		if !ok || !old.expires.After(time.Now()) {
			return "", "", time.Time{}, fmt.Errorf("refresh token: %w", errNotFound)
		}
		// Rotation: the presented token is spent, a new one replaces it.
		delete(s.refresh, current)
		delete(s.access, old.access)
		rt = r.rt
	default:
		return "", "", time.Time{}, fmt.Errorf("testoidc: refresh for %T: %w", req, errors.ErrUnsupported)
	}
	at := s.newAccessLocked(req)
	rt.token = rand.Text()
	rt.access = at.id
	rt.expires = time.Now().Add(s.cfg.RefreshTokenLifetime)
	s.refresh[rt.token] = &rt
	return at.id, rt.token, at.expires, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || !rt.expires.After(time.Now()) {
		return nil, fmt.Errorf("refresh token: %w", errNotFound)
	}
	if _, ok := s.users[rt.subject]; !ok {
		return nil, fmt.Errorf("user of refresh token: %w", errNotFound)
	}
	return &refreshRequest{rt: *rt}, nil
}

// TerminateSession is op's fallback; TerminateSessionFromRequest is used.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.access[tokenOrID]; ok {
		if at.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.access, tokenOrID)
		return nil
	}
	if rt, ok := s.refresh[tokenOrID]; ok {
		if rt.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refresh, tokenOrID)
		delete(s.access, rt.access)
	}
	return nil
}

// revokeLocked drops every refresh and access token matching keep == false.
func (s *storage) revokeLocked(match func(subject, sid string) bool) int {
	n := 0
	for tok, rt := range s.refresh {
		if match(rt.subject, rt.sid) {
			delete(s.refresh, tok)
			delete(s.access, rt.access)
			n++
		}
	}
	for id, at := range s.access {
		if match(at.subject, "") {
			delete(s.access, id)
		}
	}
	return n
}

// --- clients

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("client %q: %w", id, errNotFound)
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.c.Secret == "" || c.c.Secret != secret {
		return errors.New("testoidc: wrong client id or secret")
	}
	return nil
}

// --- claims

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil // deprecated by op; SetUserinfoFromRequest does the work
}

// SetUserinfoFromRequest fills the claims of an ID token, sid included.
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.userinfoLocked(ui, req.GetSubject(), scopes); err != nil {
		return err
	}
	var sid string
	switch r := req.(type) {
	case *authRequest:
		sid = r.sid
	case *refreshRequest:
		sid = r.rt.sid
	}
	if sid != "" {
		ui.AppendClaims("sid", sid)
	}
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint.
func (s *storage) SetUserinfoFromToken(_ context.Context, ui *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[tokenID]
	if !ok || !at.expires.After(time.Now()) {
		return fmt.Errorf("access token: %w", errNotFound)
	}
	return s.userinfoLocked(ui, at.subject, at.scopes)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, _, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[tokenID]
	if !ok || !at.expires.After(time.Now()) || at.clientID != clientID {
		return fmt.Errorf("access token: %w", errNotFound)
	}
	ui := new(oidc.UserInfo)
	if err := s.userinfoLocked(ui, at.subject, at.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(ui)
	resp.Scope = at.scopes
	resp.ClientID = at.clientID
	resp.Expiration = oidc.FromTime(at.expires)
	return nil
}

// userinfoLocked sets the claims the scopes grant: sub always, email and
// email_verified for email, preferred_username and name for profile, and
// groups whenever the user has any (as most providers send it without a
// scope of its own).
func (s *storage) userinfoLocked(ui *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.users[subject]
	if !ok {
		return fmt.Errorf("user %q: %w", subject, errNotFound)
	}
	ui.Subject = u.Subject
	if slices.Contains(scopes, oidc.ScopeEmail) && u.Email != "" {
		ui.Email = u.Email
		ui.EmailVerified = oidc.Bool(!u.EmailUnverified)
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		ui.PreferredUsername = u.Username
		ui.Name = u.Name
	}
	if len(u.Groups) > 0 {
		ui.AppendClaims(ClaimGroups, slices.Clone(u.Groups))
	}
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, fmt.Errorf("testoidc: JWT profile grant: %w", errors.ErrUnsupported)
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, fmt.Errorf("testoidc: JWT profile grant: %w", errors.ErrUnsupported)
}

func (s *storage) Health(context.Context) error { return nil }

// --- keys

type signingKey struct{ s *storage }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.s.key }
func (k signingKey) ID() string                                  { return k.s.keyID }

type publicKey struct{ s *storage }

func (k publicKey) ID() string                         { return k.s.keyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.s.key.PublicKey }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return signingKey{s}, nil }
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}
func (s *storage) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{s}}, nil }
