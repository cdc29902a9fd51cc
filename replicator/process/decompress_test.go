package process

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zs(t testing.TB, b []byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return e.EncodeAll(b, nil)
}

func TestDecompressModes(t *testing.T) {
	plain := []byte(`{"hello":"world","n":[1,2,3]}`)
	cases := []struct {
		mode string
		in   []byte
	}{
		{"none", plain}, {"", plain},
		{"gzip", gz(t, plain)}, {"zstd", zs(t, plain)},
		{"auto", gz(t, plain)}, {"auto", zs(t, plain)}, {"auto", plain},
	}
	for _, c := range cases {
		got, err := Decompress(c.mode, c.in)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("Decompress(%q) = %q, %v", c.mode, got, err)
		}
	}
	// "none" leaves compressed bytes alone.
	in := gz(t, plain)
	if got, _ := Decompress("none", in); !bytes.Equal(got, in) {
		t.Error("mode none changed the payload")
	}
}

func TestDecompressErrors(t *testing.T) {
	plain := []byte("payload")
	for _, c := range []struct {
		mode, want string
		in         []byte
	}{
		{"gzip", "gzip", plain},             // not gzip at all
		{"zstd", "zstd", plain},             // not zstd at all
		{"gzip", "gzip", gz(t, plain)[:12]}, // truncated
		{"zstd", "zstd", zs(t, bytes.Repeat(plain, 100))[:10]},
		{"auto", "gzip", append([]byte{0x1f, 0x8b}, "garbage"...)},
		{"auto", "zstd", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, "garbage"...)},
	} {
		_, err := Decompress(c.mode, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decompress(%q, %q) error %v, want one naming %s", c.mode, c.in, err, c.want)
		}
	}
	if _, err := NewDecompressor("lz4"); err == nil || !strings.Contains(err.Error(), `"lz4"`) {
		t.Errorf("unknown mode: %v", err)
	}
}

func TestDecompressionBomb(t *testing.T) {
	bomb := make([]byte, DefaultMaxDecompressed+1) // 10 MiB + 1 of zeros compresses to a few KiB
	for _, c := range []struct {
		mode string
		in   []byte
	}{{"gzip", gz(t, bomb)}, {"zstd", zs(t, bomb)}, {"auto", zs(t, bomb)}} {
		if len(c.in) > 64<<10 {
			t.Fatalf("%s bomb is %d bytes, not a bomb", c.mode, len(c.in))
		}
		_, err := Decompress(c.mode, c.in)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "10485760") {
			t.Errorf("%s bomb: error %v, want ErrTooLarge naming the cap", c.mode, err)
		}
	}
	// A streamed zstd frame declares no content size: the decoder must stop
	// at the cap while decoding rather than trust a header.
	var streamed bytes.Buffer
	zw, err := zstd.NewWriter(&streamed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(bomb); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Decompress("zstd", streamed.Bytes()); !errors.Is(err, ErrTooLarge) {
		t.Errorf("streamed zstd bomb: %v, want ErrTooLarge", err)
	}

	// Exactly at the cap is fine, and the cap is configurable. (Payloads
	// above 1 KiB, so the zstd encoder writes single-segment frames whose
	// window is the content size.)
	atCap := make([]byte, 4096)
	d, err := NewDecompressor("auto", WithMaxDecompressed(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, in := range [][]byte{gz(t, atCap), zs(t, atCap)} {
		if out, err := d.Decompress(in); err != nil || len(out) != 4096 {
			t.Errorf("at cap: %d bytes, %v", len(out), err)
		}
	}
	over := make([]byte, 4097)
	for _, in := range [][]byte{gz(t, over), zs(t, over)} {
		if _, err := d.Decompress(in); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "cap of 4096 bytes") {
			t.Errorf("1 byte over a 4096-byte cap: %v", err)
		}
	}
}
