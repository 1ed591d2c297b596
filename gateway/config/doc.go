// Package config is the configuration of `sessiond serve --config FILE`:
// a YAML file, parsed strictly and checked completely before anything
// starts.
//
// # Strictness
//
// An unknown key, a key written twice, a value of the wrong kind (a list
// where a string belongs, a number where a string belongs, "yes" for a
// boolean), a bad duration ("5x"; durations are Go durations such as "30s",
// "15m", "1h30m"), a value outside its choices, YAML aliases and custom tags
// are all errors. Every error names the file, the line and the key path,
//
//	sessiond.yaml:14: sites[0].session.idle_timeout: "5x" is not a duration (write it like "30s", "15m" or "1h30m")
//
// and all of them are reported at once, in line order (Load joins them
// with errors.Join; Errors takes them apart). Messages never contain a
// secret.
//
// # Defaults and checks
//
// Every key has a safe default; an absent key keeps it, a present key
// always wins, even when it is zero. Loading then runs in three steps, in
// the manner of Caddy's provision/validate: provision fills the defaults
// that depend on other keys (cookie names from the mode, redirect ports
// from the listeners, site names from their hosts) and makes paths
// absolute; validate checks every rule that needs no file (cookie prefix
// rules, duplicate hosts, URL schemes, path prefixes, timeouts, redirect
// rules, header names); resolve reads the secrets and key files and checks
// that the named files and directories exist.
//
// Secrets (admin token, PostgreSQL DSN, Redis URL) come from a file
// (token_file, dsn_file, url_file) or an environment variable (token_env,
// by default SESSIOND_ADMIN_TOKEN; dsn_env; url_env). Writing one inline
// works but returns a Warning, as do settings that are legal but probably
// not meant (a limit turned off, a session that never expires). Secret
// files readable by other users warn too. Key files hold one key of 32 bytes
// per line, base64 or 64 hex digits; make one with `head -c 32 /dev/urandom | base64`.
//
// A configuration can also be built in code: start from Default and
// DefaultSite and call Config.Validate, which runs the same three steps.
// A Config is plain data; once loaded it may be read from any number of
// goroutines.
//
// # Paths
//
// Requests are judged on their canonical path (secure.CanonicalPath):
// decoded once, without "." and ".." segments, doubled slashes or ";"
// parameters. A request spelled otherwise (/x/../private, /%2e/private,
// /private;jsessionid=1/x, /x/..;/private) is redirected to that path
// (GET, HEAD) or refused with 400 (other methods) before any rule is
// judged, since Tomcat, Spring and file servers resolve it to the path the
// rule names. Every path in the file (include, exclude, auth_required,
// cacheable, a redirect rule's path, login_path, ...) must itself be
// canonical.
//
// include, exclude, auth_required, cacheable and a redirect rule's path
// all match one way (secure.PathMatcher, Site.Paths), segment by segment:
// /private covers /private, /private/ and everything below it, and a last
// segment with an extension, /private.json or /private.tar.gz (Rails and
// Spring route those to /private), but not /privateer, /private-x or
// /private.json/x. A rule ending in "/" (/static/) covers only what lies
// below it: not /static, not /static.json. Matching ignores case (Express,
// IIS and case-insensitive file systems serve /PRIVATE as /private) unless
// the site sets exact_case_paths: true; a redirect rule's glob ignores
// case the same way. Each auth_required path must lie where sessions are
// on: an exclude that overlaps it, or an include list none of whose paths
// covers it, is an error, since a path without sessions reaches the
// backend as it is.
//
// # What runs
//
// The gateway runs the Config it is given: gateway.New(*Config,
// gateway.Runtime) builds each site from its Site, with the library
// configurations from Site.SessionConfig (session.Config) and
// Site.SecureConfig (secure.Config); there is no second, hand-mapped
// configuration. Enumerations the libraries own decode into their types
// (session.TheftAction, session.BindAction, secure.Overall, secure.State,
// secure.Scheme implement encoding.TextUnmarshaler); enums.go keeps only
// the gateway's own (session mode with off, SameSite, the IP binding
// shorthand). Where a library owns a knob its zero-value rule applies, and
// DefaultSite takes its defaults from the library's constants; the
// gateway's own knobs are defined here. testdata/NAME.effective shows, for
// each testdata file that loads, the resolved configuration and every
// site's session.Config (after package session's defaults) and
// secure.Config.
//
// # Full example
//
// Every key, with its default where it has one (testdata/example.yaml; a
// test keeps the two the same):
//
//	# sessiond.yaml: every key, with its default where it has one.
//	# Relative paths are relative to this file's directory.
//
//	listen:
//	  http:
//	    addr: 127.0.0.1:8080            # "" turns plain HTTP off
//	    proxy_protocol: false           # true: PROXY v1/v2 header first, from trusted_proxies only
//	  https:                            # on when cert_file, acme or dev_tls is set
//	    addr: 127.0.0.1:8443
//	    cert_file: tls/cert.pem
//	    key_file: tls/key.pem
//	    dev_tls: false                  # true: self-signed localhost certificate (loopback only)
//	    # acme:                         # instead of cert_file: certificates from an ACME CA, kept in the store
//	    #   email: ops@example.com      # the CA's expiry warnings (optional)
//	    #   ca: https://acme-v02.api.letsencrypt.org/directory
//	    #   ca_root: ""                 # PEM file of a private CA's root (default: system roots)
//	    #   challenges: [http-01, tls-alpn-01]  # http-01 needs listen.http (port 80), tls-alpn-01 port 443
//	    proxy_protocol: false           # as for http (the header comes before TLS)
//	  admin:                            # off unless addr is set
//	    addr: 127.0.0.1:9090
//	    token_file: secrets/admin-token # or token_env (default SESSIOND_ADMIN_TOKEN)
//	    metrics_path: /metrics
//	  timeouts:                         # of the HTTP and HTTPS listeners
//	    read_header: 10s                # request line and headers
//	    idle: 2m                        # keep-alive connection without a request
//
//	trusted_proxies: [127.0.0.1/32]     # proxies whose X-Forwarded-* are believed (default none); forward auth needs its proxy here
//	                                    # (without listen.https: https-only/mixed sites behind a TLS terminator)
//	# geoip: {database: GeoLite2-City.mmdb, language: en}   # the Area of listed sessions (local_networks: true also names loopback/private ranges)
//
//	store:                              # exactly one of sqlite (default), postgres, redis, cookie, memory
//	  sqlite:
//	    path: data/sessions.db          # default sessiond.db
//	  # postgres: {dsn_file: secrets/pg-dsn}          or dsn_env: PG_DSN
//	  # redis: {url_env: SESSIOND_REDIS_URL}          or url_file
//	  # cookie: {keys_file: secrets/cookie-keys}      sessions sealed in the browser
//	  # revocations: {path: sessiond-revocations.db}  cookie store only: what logout revokes (default), or {redis: {url_env: …}}
//	  # memory: {}                                    lost on restart
//	  encrypt_at_rest:                  # optional, server stores only
//	    keys_file: secrets/data-keys    # one base64 32-byte key per line; the first seals
//
//	audit:
//	  log: stderr                       # stderr (in the log stream), stdout or a file path (JSON lines)
//
//	access_log:                         # one line per request, the session named by its Ref (never its ID)
//	  log: off                          # off, stdout, stderr or a file path
//	  format: combined                  # combined (Apache's, plus the Ref) or json
//
//	limits:
//	  unknown_ids: {attempts: 60, per: 1m}   # per client (IPv4 address, IPv6 /64), all sites together; 0 = off
//	  max_clients: 100000
//
//	pages:                              # the sign-in, sessions and error pages of every site
//	  templates_dir: ""                 # html/template files replacing built-in pages: login.html, refused.html,
//	                                    # sessions.html, error.html (gateway/pages); "" = built-in only
//
//	sites:
//	  - name: shop                      # default: the first host
//	    hosts: [shop.example.com, www.shop.example.com]
//	    upstream: http://127.0.0.1:9001 # or cgi: {dir, prefix} or static: {dir, prefix} or forward_auth (below)
//	    realm: shop                     # default: the name; sites share sessions only by naming one realm each
//	    session:
//	      mode: mixed                   # https-only (default), mixed or off
//	      cookie:
//	        name: sid                   # default __Host-sid (https-only) or sid (mixed)
//	        secure_name: __Host-ssid    # mixed mode's HTTPS cookie
//	        domain: ""                  # "" = host-only
//	        path: /
//	        same_site: lax              # lax, strict or none
//	        persist: 0s                 # Max-Age; 0 = browser-session cookie
//	      idle_timeout: 30m
//	      absolute_timeout: 24h
//	      max_age: 0s                   # SessionMaxAge; restarts on every save, a touch too; 0 = none
//	      rotate_every: 15m
//	      rotate_requests: 0
//	      grace: 30s
//	      lock: false                   # true: one request of a session at a time (see README)
//	      stay_secure: false
//	      allow_http_auth: false
//	      theft_action: revoke-user     # revoke-user, destroy or log
//	      bind: {ip: off, user_agent: false, action: log}  # ip: off, exact or subnet; action: log, reject, regenerate or off
//	      include: [/]
//	      exclude: [/static/]
//	    auth_required: [/account, /checkout, /admin]   # also /account/x, /account.json, /ACCOUNT
//	    exact_case_paths: false         # true: path rules match only in their own case
//	    cacheable: [/avatars/]          # signed-in responses elsewhere get Cache-Control: private, no-store
//	    auth:
//	      htpasswd: users.htpasswd      # "" = the backend logs users in
//	      login_path: /login
//	      logout_path: /logout
//	      reauth_after: 15m             # revoking other sessions asks for the password after this
//	      remember: {enabled: false, lifetime: 720h, reuse_grace: 10s}  # "Keep me signed in"
//	      rate_limit:
//	        per_ip: {attempts: 20, per: 1m}
//	        per_user: {attempts: 10, per: 1m}
//	        per_device: {attempts: 10, per: 1h}  # clients that signed in before (device cookie)
//	      oidc:                         # optional: sign in at an OpenID provider (beside htpasswd the page offers both)
//	        issuer: https://accounts.example.com
//	        name: accounts.example.com  # "Sign in with NAME"; default: the issuer's host
//	        client_id: sessiond
//	        client_secret_file: secrets/oidc-client-secret  # or client_secret_env; none: a public client (PKCE only)
//	        scopes: [openid, email, profile]
//	        user_claim: sub             # X-Session-User: sub, email, preferred_username, ...
//	        groups_claim: groups        # X-Session-Groups; "" = none
//	        allowed_emails: []          # empty lists admit anyone the provider signs in
//	        allowed_domains: []
//	        allowed_groups: []
//	        ca_root: ""                 # PEM file of a private CA; "" = the system's roots
//	        refresh_every: 5m           # re-check the user with the provider (refresh token)
//	        down_grace: 15m             # provider unreachable: sign out this long after the last good check
//	    redirects:
//	      overall: rules                # never, always or rules
//	      status: 302                   # or 301; other methods than GET/HEAD get 307
//	      https_port: 8443              # default: the listeners' ports
//	      http_port: 8080
//	      rules:                        # first match wins; to: https (default), http or stay (no redirect)
//	        - {path: /checkout, to: https}
//	        - {glob: "/account/*", to: https}
//	        - {path: /admin}
//	        - {state: authenticated, to: https}
//	        - {form: "input[type=password]", to: https}
//	        - {path: /cart, state: anonymous, to: http}
//	      hsts: {max_age: 0s, include_subdomains: false}
//	    headers:
//	      session: X-Session
//	      user: X-Session-User
//	      ref: X-Session-Ref
//	      secure: X-Session-Secure
//	      replace: X-Replace-Session
//	      action: X-Session-Action
//	      email: X-Session-Email        # an OpenID user's email
//	      groups: X-Session-Groups      # an OpenID user's groups, comma separated
//	    max_header_bytes: 8192
//	    timeouts:
//	      request_body: 20s             # the request body, else 408 (Apache mod_reqtimeout body=20)
//	      request_body_min_rate: 500    # ... extended 1s per 500 bytes received (MinRate=500); 0: no extension
//	      upstream_header: 60s          # the upstream's response headers, else 504
//	    csrf: {enforce_origin: true}
//	    inspect: false                  # X-Session-Info for the backend: what the gateway did (debugging panels)
//	    modcrypto:                      # optional: import Apache mod_session_crypto cookies once
//	      passphrase_file: secrets/apache-passphrases
//	      cookie_name: session
//	      cipher: aes256
//	      auth_name: ""                 # mod_auth_form's AuthName ("" = any); its -pw key is never forwarded
//	    pages: {templates_dir: pages}   # this site's own pages; default: the top-level pages
//
//	  - name: outlet
//	    hosts: [outlet.example.com]
//	    cgi: {dir: cgi-bin, prefix: /}
//	    session: {mode: https-only}
//	    redirects:
//	      hsts: {max_age: 8760h}         # the default of https-only sites (0s with dev_tls)
//
//	  - name: catalog
//	    hosts: [catalog.example.com]
//	    static: {dir: public}
//	    session: {mode: off}
//
//	  - name: wiki                      # forward auth: nginx, Caddy or Traefik in front asks /.sessiond/auth
//	    hosts: [wiki.example.com]       # (docs/forward-auth.md); login, logout and /.sessiond/ are served here
//	    forward_auth:
//	      session_data: false           # true: the answer carries X-Session (the data) besides user and Ref
//	    auth: {htpasswd: users.htpasswd}  # required: the gateway's login form signs users in
package config
