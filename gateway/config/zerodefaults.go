package config

// Plain defaults have one table: Default, DefaultSite and the setDefaults
// of optional blocks. A file starts from that table, so a key it leaves
// out keeps its default and a key it writes wins, even when zero. A
// configuration built in code may leave some fields at zero to mean "the
// default"; these functions copy them from the same table, never writing
// a value of their own.

// fillZero sets *dst to def when it is zero and key was not written in the
// file. key is "" for fields where zero is never a value (an empty name
// or path): those always take the default.
func fillZero[T comparable](r *resolver, key string, dst *T, def T) {
	var zero T
	if *dst == zero && (key == "" || !r.p.src.present(key)) {
		*dst = def
	}
}

// fillConfigZeros fills c's top-level zero fields from Default.
func fillConfigZeros(c *Config, r *resolver) {
	d := Default()
	fillZero(r, "", &c.AccessLog.Log, d.AccessLog.Log)
	fillZero(r, "", &c.AccessLog.Format, d.AccessLog.Format)
	fillZero(r, "", &c.Audit.Log, d.Audit.Log)
}

// fillSiteZeros fills site s's (at path p) zero fields from DefaultSite
// and its blocks' setDefaults.
func fillSiteZeros(s *Site, r *resolver, p string) {
	d := DefaultSite()
	ck, dck := &s.Session.Cookie, d.Session.Cookie
	fillZero(r, "", &ck.Path, dck.Path)
	fillZero(r, "", &ck.SameSite, dck.SameSite)
	fillZero(r, "", &s.Session.Bind.IP, d.Session.Bind.IP)
	fillZero(r, join(p, "redirects.status"), &s.Redirects.Status, d.Redirects.Status)
	fillZero(r, "", &s.Auth.LoginPath, d.Auth.LoginPath)
	fillZero(r, "", &s.Auth.LogoutPath, d.Auth.LogoutPath)
	fillZero(r, join(p, "max_header_bytes"), &s.MaxHeaderBytes, d.MaxHeaderBytes)
	for _, dr := range []*DirRoute{s.CGI, s.Static} {
		if dr != nil {
			var dd DirRoute
			dd.setDefaults()
			fillZero(r, "", &dr.Prefix, dd.Prefix)
		}
	}
	if m := s.ModCrypto; m != nil {
		var dm ModCrypto
		dm.setDefaults()
		fillZero(r, "", &m.CookieName, dm.CookieName)
		fillZero(r, "", &m.Cipher, dm.Cipher)
	}
}
