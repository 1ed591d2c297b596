package csrf

import (
	"crypto/rand"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

func TestMaskUnmask(t *testing.T) {
	var secret, other [secretLen]byte
	_, _ = rand.Read(secret[:])
	_, _ = rand.Read(other[:])
	tok := mask(&secret)
	flipped := []byte(tok)
	flipped[0] ^= 'A' ^ 'B'
	tests := []struct {
		name   string
		secret *[secretLen]byte
		tok    string
		want   bool
	}{
		{"own token", &secret, tok, true},
		{"second masking", &secret, mask(&secret), true},
		{"other secret", &other, tok, false},
		{"flipped pad byte", &secret, string(flipped), false},
		{"empty", &secret, "", false},
		{"the pad alone", &secret, tok[:43], false},
		{"too long", &secret, tok + "A", false},
		{"standard alphabet", &secret, tok[:85] + "+", false},
		{"non-canonical last char", &secret, tok[:85] + "B", false},
		{"NUL", &secret, tok[:10] + "\x00" + tok[11:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := verify(tc.secret, tc.tok); got != tc.want {
				t.Fatalf("verify = %v, want %v", got, tc.want)
			}
		})
	}
	if len(tok) != TokenLen || tok == mask(&secret) {
		t.Fatal("token not masked afresh, or wrong length")
	}
}

// TestConstantTimeCompare reads this package's source: the only comparison
// of a token with the secret is subtle.ConstantTimeCompare, and nothing in
// the package compares bytes or strings with an early-exit function.
func TestConstantTimeCompare(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "token.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	early := map[string]bool{"bytes.Equal": true, "bytes.Compare": true, "strings.Compare": true, "strings.EqualFold": true, "reflect.DeepEqual": true}
	var foundVerify, usesSubtle bool
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Name.Name == "verify" {
				foundVerify = true
				ast.Inspect(n.Body, func(m ast.Node) bool {
					if c, ok := m.(*ast.CallExpr); ok && selector(c.Fun) == "subtle.ConstantTimeCompare" {
						usesSubtle = true
					}
					if b, ok := m.(*ast.BinaryExpr); ok && (b.Op == token.EQL || b.Op == token.NEQ) {
						if _, lit := b.Y.(*ast.BasicLit); !lit {
							t.Errorf("%s: == on non-constant operands in verify", fset.Position(b.Pos()))
						}
					}
					return true
				})
			}
		case *ast.CallExpr:
			if early[selector(n.Fun)] {
				t.Errorf("%s: %s compares in variable time", fset.Position(n.Pos()), selector(n.Fun))
			}
		}
		return true
	})
	if !foundVerify || !usesSubtle {
		t.Fatalf("verify found=%v, uses subtle.ConstantTimeCompare=%v", foundVerify, usesSubtle)
	}
}

func selector(e ast.Expr) string {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	x, ok := s.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return x.Name + "." + s.Sel.Name
}
