package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Sealer encrypts connector settings and signing secrets at rest with
// AES-256-GCM. Sealed values start with a version byte so the format can
// change without guessing.
type Sealer struct {
	aead cipher.AEAD
}

const sealV1 = 1

// NewSealer takes a 32-byte key given as standard or URL base64.
func NewSealer(keyB64 string) (*Sealer, error) {
	key, err := decodeKey(keyB64)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("portal: secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("portal: secret key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("portal: secret key must be 32 bytes, got %d", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("portal: secret key is not base64")
}

// NewKey returns a fresh random key in the form NewSealer takes.
func NewKey() string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(k)
}

// Seal encrypts plaintext; aad binds the value to its record (its id), so a
// sealed value copied into another row does not open.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := append([]byte{sealV1}, nonce...)
	return s.aead.Seal(out, nonce, plaintext, aad)
}

// ErrUnseal means a sealed value did not open: wrong key, or tampered data.
var ErrUnseal = errors.New("portal: cannot decrypt stored secret (wrong secrets key?)")

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns || sealed[0] != sealV1 {
		return nil, ErrUnseal
	}
	pt, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad)
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}
