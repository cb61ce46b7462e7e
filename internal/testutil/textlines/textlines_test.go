package textlines

import "testing"

func TestLast(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"a\nb\n\n\n", 1, "b"},
		{"", 3, ""},
	} {
		if got := Last(tc.s, tc.n); got != tc.want {
			t.Errorf("Last(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
