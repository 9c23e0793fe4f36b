// Package twiliotest is a fake Twilio for tests: a REST API server (real
// HTTP, on loopback) for the calls the gateway makes, and builders of
// Twilio's webhooks, signed with Twilio's algorithm as written here,
// independently of the connector's own code.
//
// The REST API speaks Twilio's JSON, below /2010-04-01/Accounts/{sid}:
//
//	GET  .json                          {"sid","friendly_name","status":"active"}
//	GET  /IncomingPhoneNumbers.json     {"incoming_phone_numbers":[{"sid","phone_number",
//	                                    "sms_url","voice_url","status_callback",…}]}
//	                                    (?PhoneNumber= filters)
//	POST /IncomingPhoneNumbers/{PN}.json sets SmsUrl, SmsMethod, VoiceUrl, VoiceMethod,
//	                                    StatusCallback, StatusCallbackMethod (those given)
//	POST /Messages.json                 201 {"sid":"SM…","status":"queued","to","from",
//	                                    "body","messaging_service_sid","num_media"}
//	GET  /Messages/{MM}/Media/{ME}      the media's bytes (AddMedia)
//	GET  /Recordings/{RE}.mp3           the recording's bytes (AddRecording)
//
// Every request must authenticate with HTTP Basic as the Account SID and
// Auth Token, or as an API key added with AddAPIKey; otherwise the answer
// is Twilio's 401 {"code":20003,"message":"Authenticate","status":401}.
// Errors are Twilio's shape: {"code":…,"message":…,"more_info":…,"status":…}.
// The server records every request (Requests) and every message sent
// (Sent), and can be told to fail (FailNext).
package twiliotest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Identity of the fake account. The SID and token have Twilio's shapes.
const (
	AccountSID   = "AC0123456789abcdef0123456789abcdef"
	AuthToken    = "f00dfeedf00dfeedf00dfeedf00dfeed"
	FriendlyName = "Acme support"
	// Number is the account's phone number (also its WhatsApp sender).
	Number = "+14155550100"
	// Customer is a customer's phone number.
	Customer = "+14155550199"
)

// Request is one recorded REST request.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values
	// User is the Basic auth user name (the Account SID or an API key SID).
	User string
	At   time.Time
}

// Message is a message the gateway sent (POST Messages.json).
type Message struct {
	SID                 string
	To, From            string
	MessagingServiceSID string
	Body                string
	MediaURLs           []string
	StatusCallback      string
}

type failure struct {
	httpStatus, code int
	message          string
	retryAfter       int
}

type blob struct {
	mime    string
	content []byte
}

// Server is the fake. It is safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	keys     map[string]string // user → password accepted
	numbers  []*PhoneNumber
	status   string
	requests []Request
	sent     []Message
	failures map[string][]failure // by "METHOD path-suffix"
	files    map[string]blob      // by path below the account
}

// New starts the fake with the account AccountSID / AuthToken owning
// Number, and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		keys:     map[string]string{AccountSID: AuthToken},
		numbers:  []*PhoneNumber{{SID: NewSID("PN"), PhoneNumber: Number}},
		status:   "active",
		failures: map[string][]failure{},
		files:    map[string]blob{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the API base URL (twilio.Options.APIURL).
func (s *Server) URL() string { return s.srv.URL }

// AddAPIKey makes the fake accept HTTP Basic sid:secret for the account.
func (s *Server) AddAPIKey(sid, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[sid] = secret
}

// PhoneNumber is one of the account's IncomingPhoneNumbers with the
// webhook URLs set on it.
type PhoneNumber struct {
	SID, PhoneNumber                     string
	SMSURL, SMSMethod                    string
	VoiceURL, VoiceMethod                string
	StatusCallback, StatusCallbackMethod string
}

// AddNumber adds a phone number to the account.
func (s *Server) AddNumber(n string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers = append(s.numbers, &PhoneNumber{SID: NewSID("PN"), PhoneNumber: n})
}

// Number returns the account's number n as it is configured now.
func (s *Server) Number(n string) (PhoneNumber, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pn := range s.numbers {
		if pn.PhoneNumber == n {
			return *pn, true
		}
	}
	return PhoneNumber{}, false
}

// SetAccountStatus sets what the account reports as its status
// ("active", "suspended", "closed").
func (s *Server) SetAccountStatus(st string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = st
}

// FailNext makes the next n requests whose path ends in suffix (e.g.
// "/Messages.json") answer httpStatus with Twilio's error body for code
// and message, plus Retry-After when retryAfter > 0.
func (s *Server) FailNext(suffix string, n, httpStatus, code int, message string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[suffix] = append(s.failures[suffix], failure{httpStatus, code, message, retryAfter})
	}
}

// AddMedia stores a message's media and returns its MediaUrl, as Twilio
// puts it into an incoming message's MediaUrl{n}.
func (s *Server) AddMedia(messageSID, mime string, content []byte) string {
	me := NewSID("ME")
	p := "/Messages/" + messageSID + "/Media/" + me
	s.mu.Lock()
	s.files[p] = blob{mime, content}
	s.mu.Unlock()
	return s.accountURL() + p
}

// AddRecording stores a call recording and returns its RecordingSid and
// RecordingUrl (without extension, as Twilio sends it).
func (s *Server) AddRecording(content []byte) (sid, recordingURL string) {
	sid = NewSID("RE")
	s.mu.Lock()
	s.files["/Recordings/"+sid+".mp3"] = blob{"audio/mpeg", content}
	s.mu.Unlock()
	return sid, s.accountURL() + "/Recordings/" + sid
}

func (s *Server) accountURL() string { return s.srv.URL + "/2010-04-01/Accounts/" + AccountSID }

// Requests returns the recorded requests whose path ends in suffix ("" for
// all), oldest first.
func (s *Server) Requests(suffix string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// Sent returns the messages the fake accepted, oldest first.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.sent...)
}

// WaitSent waits until at least n messages were accepted, or timeout.
func (s *Server) WaitSent(timeout time.Duration, n int) []Message {
	deadline := time.Now().Add(timeout)
	for {
		if got := s.Sent(); len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	user, pass, _ := r.BasicAuth()
	form := url.Values{}
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Form: form, User: user, At: time.Now()})
	want, known := s.keys[user]
	s.mu.Unlock()
	if !known || pass != want {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate", 0)
		return
	}
	prefix := "/2010-04-01/Accounts/" + AccountSID
	if !strings.HasPrefix(r.URL.Path, prefix) {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found", 0)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, prefix)
	if f, ok := s.takeFailure(rest); ok {
		writeError(w, f.httpStatus, f.code, f.message, f.retryAfter)
		return
	}
	switch {
	case r.Method == http.MethodGet && rest == ".json":
		s.mu.Lock()
		st := s.status
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"sid": AccountSID, "friendly_name": FriendlyName, "status": st, "type": "Full"})
	case r.Method == http.MethodGet && rest == "/IncomingPhoneNumbers.json":
		s.listNumbers(w, r.URL.Query().Get("PhoneNumber"))
	case r.Method == http.MethodPost && rest == "/Messages.json":
		s.createMessage(w, form)
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "/IncomingPhoneNumbers/PN") && strings.HasSuffix(rest, ".json"):
		s.updateNumber(w, strings.TrimSuffix(strings.TrimPrefix(rest, "/IncomingPhoneNumbers/"), ".json"), form)
	case r.Method == http.MethodGet:
		s.mu.Lock()
		b, ok := s.files[rest]
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found", 0)
			return
		}
		w.Header().Set("Content-Type", b.mime)
		w.Header().Set("Content-Length", fmt.Sprint(len(b.content)))
		_, _ = w.Write(b.content)
	default:
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found", 0)
	}
}

func (s *Server) takeFailure(rest string) (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for suffix, fs := range s.failures {
		if strings.HasSuffix(rest, suffix) && len(fs) > 0 {
			s.failures[suffix] = fs[1:]
			return fs[0], true
		}
	}
	return failure{}, false
}

func (s *Server) listNumbers(w http.ResponseWriter, filter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []map[string]any{}
	for _, n := range s.numbers {
		if filter == "" || filter == n.PhoneNumber {
			list = append(list, numberJSON(n))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"incoming_phone_numbers": list, "page": 0, "page_size": 50})
}

func numberJSON(n *PhoneNumber) map[string]any {
	return map[string]any{
		"sid": n.SID, "account_sid": AccountSID, "phone_number": n.PhoneNumber, "friendly_name": n.PhoneNumber,
		"sms_url": n.SMSURL, "sms_method": n.SMSMethod, "voice_url": n.VoiceURL, "voice_method": n.VoiceMethod,
		"status_callback": n.StatusCallback, "status_callback_method": n.StatusCallbackMethod,
	}
}

// updateNumber sets the parameters given (and only those), as Twilio's
// IncomingPhoneNumber update does.
func (s *Server) updateNumber(w http.ResponseWriter, sid string, f url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.numbers {
		if n.SID != sid {
			continue
		}
		for key, field := range map[string]*string{
			"SmsUrl": &n.SMSURL, "SmsMethod": &n.SMSMethod, "VoiceUrl": &n.VoiceURL, "VoiceMethod": &n.VoiceMethod,
			"StatusCallback": &n.StatusCallback, "StatusCallbackMethod": &n.StatusCallbackMethod,
		} {
			if vs, ok := f[key]; ok {
				*field = vs[0]
			}
		}
		writeJSON(w, http.StatusOK, numberJSON(n))
		return
	}
	writeError(w, http.StatusNotFound, 20404, "The requested resource was not found", 0)
}

func (s *Server) createMessage(w http.ResponseWriter, f url.Values) {
	m := Message{
		SID: NewSID("SM"), To: f.Get("To"), From: f.Get("From"), MessagingServiceSID: f.Get("MessagingServiceSid"),
		Body: f.Get("Body"), MediaURLs: f["MediaUrl"], StatusCallback: f.Get("StatusCallback"),
	}
	switch {
	case m.To == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.", 0)
		return
	case m.From == "" && m.MessagingServiceSID == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.", 0)
		return
	case m.Body == "" && len(m.MediaURLs) == 0:
		writeError(w, http.StatusBadRequest, 21619, "A text message Body or Media URL is required.", 0)
		return
	case len([]rune(m.Body)) > 1600:
		writeError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.", 0)
		return
	}
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid": m.SID, "account_sid": AccountSID, "status": "queued", "to": m.To, "from": m.From,
		"messaging_service_sid": m.MessagingServiceSID, "body": m.Body, "num_media": fmt.Sprint(len(m.MediaURLs)),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code int, message string, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
	}
	writeJSON(w, status, map[string]any{"code": code, "message": message, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

// NewSID returns a random SID with Twilio's two-letter prefix ("SM",
// "CA", "ME"...) and 32 hex digits.
func NewSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Sign computes X-Twilio-Signature for a POST of form to fullURL with
// authToken, as Twilio's documentation describes it: the URL, then for
// each parameter name in byte order, the name and the value (for a name
// with several values: each distinct value, sorted, after its own copy of
// the name); HMAC-SHA1 keyed with the token, base64.
func Sign(authToken, fullURL string, form url.Values) string {
	type pair struct{ name, value string }
	var pairs []pair
	for name, values := range form {
		seen := map[string]bool{}
		for _, v := range values {
			if !seen[v] {
				seen[v] = true
				pairs = append(pairs, pair{name, v})
			}
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].name != pairs[j].name {
			return pairs[i].name < pairs[j].name
		}
		return pairs[i].value < pairs[j].value
	})
	var b strings.Builder
	b.WriteString(fullURL)
	for _, p := range pairs {
		b.WriteString(p.name)
		b.WriteString(p.value)
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Webhook is a signed webhook request as Twilio would make it.
type Webhook struct {
	URL    string
	Header http.Header
	Body   []byte
	Form   url.Values
}

// Signed builds a form POST to fullURL signed with authToken.
func Signed(authToken, fullURL string, form url.Values) Webhook {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Twilio-Signature", Sign(authToken, fullURL, form))
	h.Set("I-Twilio-Idempotency-Token", NewSID("ID"))
	return Webhook{URL: fullURL, Header: h, Body: []byte(form.Encode()), Form: form}
}

// IncomingSMS is the form of an incoming SMS from Customer to Number, as
// Twilio posts it (with parameters the gateway does not use, as Twilio
// sends them).
func IncomingSMS(messageSID, body string) url.Values {
	return url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {messageSID}, "NumMedia": {"0"},
		"ToCity": {"SAN FRANCISCO"}, "FromZip": {"94105"}, "SmsSid": {messageSID}, "FromState": {"CA"},
		"SmsStatus": {"received"}, "FromCity": {"SAN FRANCISCO"}, "Body": {body}, "FromCountry": {"US"},
		"To": {Number}, "ToZip": {"94105"}, "NumSegments": {"1"}, "MessageSid": {messageSID},
		"AccountSid": {AccountSID}, "From": {Customer}, "ApiVersion": {"2010-04-01"},
	}
}

// IncomingWhatsApp is the form of an incoming WhatsApp message from
// Customer (profile name profileName) to the Number's WhatsApp sender,
// with the given media URLs and types.
func IncomingWhatsApp(messageSID, body, profileName string, media ...[2]string) url.Values {
	f := url.Values{
		"SmsMessageSid": {messageSID}, "NumMedia": {fmt.Sprint(len(media))}, "ProfileName": {profileName},
		"MessageType": {"text"}, "SmsSid": {messageSID}, "WaId": {strings.TrimPrefix(Customer, "+")},
		"SmsStatus": {"received"}, "Body": {body}, "To": {"whatsapp:" + Number}, "NumSegments": {"1"},
		"ReferralNumMedia": {"0"}, "MessageSid": {messageSID}, "AccountSid": {AccountSID},
		"From": {"whatsapp:" + Customer}, "ApiVersion": {"2010-04-01"}, "ChannelMetadata": {`{"type":"whatsapp","data":{"context":{"ProfileName":"` + profileName + `"}}}`},
	}
	if len(media) > 0 {
		f.Set("MessageType", "image")
	}
	for i, m := range media {
		f.Set(fmt.Sprintf("MediaUrl%d", i), m[0])
		f.Set(fmt.Sprintf("MediaContentType%d", i), m[1])
	}
	return f
}

// MessageStatus is a status callback of an outbound message to "to".
func MessageStatus(messageSID, to, status string, errorCode int) url.Values {
	f := url.Values{
		"SmsSid": {messageSID}, "SmsStatus": {status}, "MessageStatus": {status}, "To": {to},
		"MessageSid": {messageSID}, "AccountSid": {AccountSID}, "From": {Number}, "ApiVersion": {"2010-04-01"},
	}
	if strings.HasPrefix(to, "whatsapp:") {
		f.Set("From", "whatsapp:"+Number)
		f.Set("ChannelPrefix", "whatsapp")
	}
	if errorCode != 0 {
		f.Set("ErrorCode", fmt.Sprint(errorCode))
	}
	return f
}

// Call is the form of a call webhook: the incoming call (status
// "ringing", no CallbackSource) or a status callback of it.
func Call(callSID, status string, seq int) url.Values {
	f := url.Values{
		"Called": {Number}, "ToState": {"CA"}, "CallerCountry": {"US"}, "Direction": {"inbound"},
		"CallerState": {"CA"}, "ToZip": {""}, "CallSid": {callSID}, "To": {Number}, "CallerZip": {""},
		"ToCountry": {"US"}, "CallToken": {"%7B%22parentCallInfoToken%22%3A%22eyJ%22%7D"}, "ApiVersion": {"2010-04-01"},
		"CalledZip": {""}, "CallStatus": {status}, "CalledCity": {""}, "From": {Customer}, "AccountSid": {AccountSID},
		"CalledCountry": {"US"}, "CallerCity": {""}, "Caller": {Customer}, "FromCountry": {"US"}, "ToCity": {""},
		"FromCity": {""}, "CalledState": {"CA"}, "FromZip": {""}, "FromState": {"CA"},
	}
	if seq >= 0 {
		f.Set("CallbackSource", "call-progress-events")
		f.Set("SequenceNumber", fmt.Sprint(seq))
		f.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	}
	if status == "completed" {
		f.Set("CallDuration", "42")
		f.Set("Duration", "1")
	}
	return f
}
