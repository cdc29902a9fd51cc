package process

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Decompression modes (REPLICATOR_DECOMPRESS).
const (
	DecompressNone = "none"
	DecompressGzip = "gzip"
	DecompressZstd = "zstd"
	DecompressAuto = "auto"
)

// DefaultMaxDecompressed caps a decompressed payload (10 MiB): Kinesis
// records are at most 1 MiB, so anything beyond 10x is far more likely a
// decompression bomb than data, and it would not fit a Kafka message anyway.
const DefaultMaxDecompressed = 10 << 20

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// ErrTooLarge is wrapped by the error for a payload that decompresses beyond
// the cap.
var ErrTooLarge = errors.New("decompressed payload too large")

// Decompressor decompresses record payloads in one mode with a size cap. It
// is safe for concurrent use.
type Decompressor struct {
	mode string
	max  int64
	zstd *zstd.Decoder // nil unless the mode can meet zstd
}

// DecompressOption configures a Decompressor.
type DecompressOption func(*Decompressor)

// WithMaxDecompressed sets the cap on a decompressed payload in bytes
// (default DefaultMaxDecompressed); n <= 0 keeps the default.
func WithMaxDecompressed(n int64) DecompressOption {
	return func(d *Decompressor) {
		if n > 0 {
			d.max = n
		}
	}
}

// NewDecompressor returns a Decompressor for mode: "none" (or ""), "gzip",
// "zstd" or "auto" (gzip when the payload starts with 1f 8b, zstd when it
// starts with 28 b5 2f fd, anything else passes through unchanged).
func NewDecompressor(mode string, opts ...DecompressOption) (*Decompressor, error) {
	d := &Decompressor{mode: mode, max: DefaultMaxDecompressed}
	if d.mode == "" {
		d.mode = DecompressNone
	}
	for _, o := range opts {
		o(d)
	}
	switch d.mode {
	case DecompressNone, DecompressGzip:
	case DecompressZstd, DecompressAuto:
		// One decoder shared by all shards: DecodeAll is concurrency-safe,
		// and the memory limit makes it stop at the cap instead of
		// allocating whatever a frame claims.
		zd, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(uint64(d.max)), zstd.WithDecoderConcurrency(0))
		if err != nil {
			return nil, fmt.Errorf("zstd decoder: %w", err)
		}
		d.zstd = zd
	default:
		return nil, fmt.Errorf("decompress mode %q: want none, gzip, zstd or auto", mode)
	}
	return d, nil
}

// Mode is the decompression mode.
func (d *Decompressor) Mode() string { return d.mode }

// Close releases the zstd decoder's goroutines.
func (d *Decompressor) Close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

// Decompress returns data decompressed per the mode. In mode "none", and in
// "auto" for a payload with neither magic, it returns data itself.
func (d *Decompressor) Decompress(data []byte) ([]byte, error) {
	switch d.mode {
	case DecompressGzip:
		return d.gunzip(data)
	case DecompressZstd:
		return d.unzstd(data)
	case DecompressAuto:
		switch {
		case bytes.HasPrefix(data, gzipMagic):
			return d.gunzip(data)
		case bytes.HasPrefix(data, zstdMagic):
			return d.unzstd(data)
		}
	}
	return data, nil
}

func (d *Decompressor) tooLarge(codec string) error {
	return fmt.Errorf("%s: %w: exceeds the cap of %d bytes", codec, ErrTooLarge, d.max)
}

func (d *Decompressor) gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, d.max+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if int64(len(out)) > d.max {
		return nil, d.tooLarge("gzip")
	}
	return out, nil
}

func (d *Decompressor) unzstd(data []byte) ([]byte, error) {
	out, err := d.zstd.DecodeAll(data, nil)
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrFrameSizeExceeded):
		return nil, d.tooLarge("zstd")
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		// The decoder refuses a frame whose declared window is larger than
		// the cap (it would need that much memory). Standard encoders use
		// at most 8 MiB windows, under the default cap.
		return nil, fmt.Errorf("zstd: %w: the frame's window exceeds the cap of %d bytes", ErrTooLarge, d.max)
	case err != nil:
		return nil, fmt.Errorf("zstd: %w", err)
	case int64(len(out)) > d.max: // belt and braces: the decoder limit is the real guard
		return nil, d.tooLarge("zstd")
	}
	return out, nil
}

// Decompress decompresses data in mode ("none", "gzip", "zstd", "auto")
// with the default cap. Build a Decompressor once instead when decompressing
// many payloads: it keeps one zstd decoder.
func Decompress(mode string, data []byte) ([]byte, error) {
	d, err := NewDecompressor(mode)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Decompress(data)
}
