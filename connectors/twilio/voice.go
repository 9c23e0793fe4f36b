package twilio

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// The TwiML the gateway answers calls with, as encoding/xml structs: every
// value (a caller's name, an admin's message) is escaped by the encoder,
// never pasted into markup.
type (
	twimlResponse struct {
		XMLName xml.Name `xml:"Response"`
		Verbs   []any
	}
	twimlSay struct {
		XMLName xml.Name `xml:"Say"`
		Text    string   `xml:",chardata"`
	}
	twimlRecord struct {
		XMLName   xml.Name `xml:"Record"`
		Action    string   `xml:"action,attr"`
		Method    string   `xml:"method,attr"`
		MaxLength int      `xml:"maxLength,attr"`
		PlayBeep  bool     `xml:"playBeep,attr"`
	}
	twimlHangup struct {
		XMLName xml.Name `xml:"Hangup"`
	}
	twimlReject struct {
		XMLName xml.Name `xml:"Reject"`
	}
	twimlEnqueue struct {
		XMLName xml.Name `xml:"Enqueue"`
		Action  string   `xml:"action,attr"`
		Method  string   `xml:"method,attr"`
		Queue   string   `xml:",chardata"`
	}
	twimlDial struct {
		XMLName xml.Name `xml:"Dial"`
		Action  string   `xml:"action,attr"`
		Method  string   `xml:"method,attr"`
		Timeout int      `xml:"timeout,attr"`
		Nouns   []any
	}
	// callbacks are the status callback attributes of a <Dial> noun:
	// Twilio reports the dialled leg's progress to them.
	callbacks struct {
		Events string `xml:"statusCallbackEvent,attr"`
		URL    string `xml:"statusCallback,attr"`
		Method string `xml:"statusCallbackMethod,attr"`
	}
	twimlNumber struct {
		XMLName xml.Name `xml:"Number"`
		callbacks
		Number string `xml:",chardata"`
	}
	twimlSip struct {
		XMLName xml.Name `xml:"Sip"`
		callbacks
		URI string `xml:",chardata"`
	}
	twimlClient struct {
		XMLName xml.Name `xml:"Client"`
		callbacks
		Identity   string           `xml:"Identity"`
		Parameters []twimlParameter `xml:"Parameter"`
	}
	twimlParameter struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
)

// dialEvents are the progress events asked for on a dialled leg.
const dialEvents = "initiated ringing answered completed"

// hookURL is the connection's entry URL with kind (and more) in its query.
func hookURL(c connectors.Conn, kind string, more ...string) string {
	q := url.Values{kindParam: {kind}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return c.EntryURL + "?" + q.Encode()
}

// VoiceTwiML is the TwiML the connection answers an incoming call with,
// chosen by its voice_mode. callerName and from (the caller's, as Twilio
// reports them) are handed to a Twilio Client agent as parameters.
func VoiceTwiML(c connectors.Conn, from, callerName string) []byte {
	s := c.Settings
	cb := callbacks{Events: dialEvents, URL: hookURL(c, kindCall), Method: "POST"}
	var verbs []any
	switch s[SettingVoiceMode] {
	case VoiceForward:
		to := s[SettingVoiceForwardTo]
		var noun any
		switch {
		case strings.HasPrefix(to, "client:"):
			params := []twimlParameter{{Name: "caller", Value: from}}
			if callerName != "" {
				params = append(params, twimlParameter{Name: "caller_name", Value: callerName})
			}
			noun = twimlClient{callbacks: cb, Identity: strings.TrimPrefix(to, "client:"), Parameters: params}
		case strings.HasPrefix(to, "sip:"), strings.HasPrefix(to, "sips:"):
			noun = twimlSip{callbacks: cb, URI: to}
		default:
			noun = twimlNumber{callbacks: cb, Number: to}
		}
		verbs = []any{twimlDial{Action: hookURL(c, kindDialEnd), Method: "POST", Timeout: 30, Nouns: []any{noun}}}
	case VoiceQueue:
		verbs = []any{twimlEnqueue{Action: hookURL(c, kindQueueEnd), Method: "POST", Queue: s[SettingVoiceQueue]}}
	case VoiceVoicemail:
		msg := s[SettingVoiceMessage]
		if msg == "" {
			msg = DefaultVoiceMessage
		}
		verbs = []any{twimlSay{Text: msg}, twimlRecord{Action: hookURL(c, kindRecording), Method: "POST", MaxLength: 120, PlayBeep: true}, twimlHangup{}}
	default:
		verbs = []any{twimlReject{}}
	}
	return marshalTwiML(verbs...)
}

func hangupTwiML() []byte { return marshalTwiML(twimlHangup{}) }

func marshalTwiML(verbs ...any) []byte {
	b, err := xml.Marshal(twimlResponse{Verbs: verbs})
	if err != nil {
		// Only the structs above are marshalled; they always encode.
		panic(fmt.Sprintf("twilio: encode TwiML: %v", err))
	}
	return append([]byte(xmlHeader), b...)
}

// parseVoice answers an incoming call with the connection's TwiML and
// reports the call's current step (Twilio calls with CallStatus ringing).
func (cn *Connector) parseVoice(c connectors.Conn, f url.Values) (connectors.Inbound, error) {
	in, err := parseCall(c, f, false)
	if err != nil {
		return in, err
	}
	in.Response = twiml(VoiceTwiML(c, f.Get("From"), f.Get("CallerName")))
	return in, nil
}

// callSteps orders the normalized call types; a step supersedes every
// earlier one, so a late callback never moves a call backward.
var callSteps = []string{connectors.TypeCallInitiated, connectors.TypeCallRinging, connectors.TypeCallAnswered, connectors.TypeCallCompleted}

// callType maps Twilio's CallStatus to a call.* type:
//
//	queued, initiated          → call.initiated
//	ringing                    → call.ringing
//	in-progress, answered      → call.answered
//	completed                  → call.completed
//	busy, no-answer, failed,
//	canceled                   → call.failed
func callType(status string) string {
	switch status {
	case "queued", "initiated":
		return connectors.TypeCallInitiated
	case "ringing":
		return connectors.TypeCallRinging
	case "in-progress", "answered":
		return connectors.TypeCallAnswered
	case "completed":
		return connectors.TypeCallCompleted
	case "busy", "no-answer", "failed", "canceled":
		return connectors.TypeCallFailed
	}
	return ""
}

func callKey(c connectors.Conn, sid, typ string) string {
	return connectors.DedupeKey(Type, c.ID, sid, typ)
}

// parseCall turns a call webhook (the incoming call itself, or a status
// callback of the call or of a leg it dialled) into one call.* event.
// Both closing types share one step, so whichever comes first closes the
// call and the other is dropped.
func parseCall(c connectors.Conn, f url.Values, callback bool) (connectors.Inbound, error) {
	sid := f.Get("CallSid")
	if sid == "" {
		return connectors.Inbound{}, fmt.Errorf("twilio: call webhook without CallSid: %w", connectors.ErrMalformed)
	}
	out := connectors.Inbound{}
	if callback {
		out.Response = twiml(emptyTwiML)
	}
	status := f.Get("CallStatus")
	typ := callType(status)
	if typ == "" {
		return out, nil
	}
	step := typ
	if typ == connectors.TypeCallFailed {
		step = connectors.TypeCallCompleted
	}
	var supersedes []string
	for _, s := range callSteps {
		if s == step {
			break
		}
		supersedes = append(supersedes, callKey(c, sid, s))
	}
	if step == connectors.TypeCallCompleted {
		// completed and failed close the call: the first one wins.
		other := connectors.TypeCallFailed
		if typ == connectors.TypeCallFailed {
			other = connectors.TypeCallCompleted
		}
		supersedes = append(supersedes, callKey(c, sid, other))
	}
	key := callKey(c, sid, typ)
	at := time.Now()
	if ts, err := time.Parse(time.RFC1123Z, f.Get("Timestamp")); err == nil {
		at = ts
	}
	call := callOf(f)
	ev := base(c, key, typ, Type, at)
	ev.Chat = &connectors.Chat{ID: customerOf(call), Type: "private"}
	ev.User = &connectors.User{ID: call.From, Name: f.Get("CallerName")}
	ev.User.ProfileHash = profileHash(ev.User)
	ev.Call = call
	out.Events = []connectors.Keyed{{DedupeKey: key, Event: ev, Supersedes: supersedes}}
	return out, nil
}

func callOf(f url.Values) *connectors.Call {
	call := &connectors.Call{
		ID: f.Get("CallSid"), ParentID: f.Get("ParentCallSid"), From: f.Get("From"), To: f.Get("To"),
		Direction: f.Get("Direction"), Status: f.Get("CallStatus"), AnsweredBy: f.Get("AnsweredBy"),
	}
	if d, err := strconv.Atoi(f.Get("CallDuration")); err == nil && d > 0 {
		call.DurationSeconds = d
	} else if d, err := strconv.Atoi(f.Get("DialCallDuration")); err == nil && d > 0 {
		call.DurationSeconds = d
	}
	return call
}

// customerOf is the customer's side of a call: the caller of an incoming
// call and of the legs it dialled (Twilio keeps the caller id), the called
// party of a call the account placed.
func customerOf(call *connectors.Call) string {
	if call.Direction == "outbound-api" {
		return call.To
	}
	return call.From
}

// parseRecording reports a voicemail (the <Record> action) as
// call.recorded with the recording as a gateway link, and hangs up.
func (cn *Connector) parseRecording(c connectors.Conn, f url.Values) (connectors.Inbound, error) {
	sid, rec := f.Get("CallSid"), f.Get("RecordingSid")
	out := connectors.Inbound{Response: twiml(hangupTwiML())}
	if sid == "" {
		return connectors.Inbound{}, fmt.Errorf("twilio: recording webhook without CallSid: %w", connectors.ErrMalformed)
	}
	ref, ok := fileRef(c, f.Get("RecordingUrl"))
	if !ok || rec == "" {
		return out, nil
	}
	key := connectors.DedupeKey(Type, c.ID, sid, "recording", rec)
	call := callOf(f)
	call.DurationSeconds, _ = strconv.Atoi(f.Get("RecordingDuration"))
	if c.Files != nil {
		call.RecordingURL = c.Files.FileURL(ref, rec+".mp3", "audio/mpeg")
	}
	ev := base(c, key, connectors.TypeCallRecorded, Type, time.Now())
	ev.Chat = &connectors.Chat{ID: customerOf(call), Type: "private"}
	ev.User = &connectors.User{ID: call.From, Name: f.Get("CallerName")}
	ev.User.ProfileHash = profileHash(ev.User)
	ev.Call = call
	out.Events = []connectors.Keyed{{DedupeKey: key, Event: ev}}
	return out, nil
}
