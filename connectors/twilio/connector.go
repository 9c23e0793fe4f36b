// Package twilio is the Twilio connector: SMS and WhatsApp conversations
// through Twilio's Programmable Messaging, with delivery and read statuses,
// and the events of phone calls to the company's number (no audio: Twilio
// carries that) so a portal can open and close the caller's card.
//
// Every webhook Twilio makes (incoming message, message status callback,
// incoming call, call status callback, recording) goes to the connection's
// entry URL, told apart by a "kind" query parameter the gateway puts into
// the URLs it hands Twilio, and must carry a valid X-Twilio-Signature made
// with the account's Auth Token over exactly that URL. The Auth Token and
// API key secret are secrets: they never appear in events, file links or
// error text.
//
// The connector talks to Twilio's REST API with net/http (the few calls it
// makes do not justify the official SDK and its dependencies); the
// signature check is this package's own (signature.go), proven equal to
// github.com/twilio/twilio-go's RequestValidator on its published vectors
// in a test.
package twilio

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connector-gateway/connector/connectors"
)

// Type is the connector type and the channel name of SMS and voice events;
// WhatsApp events have Channel "twilio.whatsapp".
const Type = "twilio"

// ChannelWhatsApp is the Channel of events about WhatsApp conversations.
const ChannelWhatsApp = "twilio.whatsapp"

// Setting keys.
const (
	SettingAccountSID       = "account_sid"
	SettingAuthToken        = "auth_token"
	SettingAPIKeySID        = "api_key_sid"
	SettingAPIKeySecret     = "api_key_secret"
	SettingPhoneNumber      = "phone_number"
	SettingWhatsAppNumber   = "whatsapp_number"
	SettingMessagingService = "messaging_service_sid"
	SettingVoiceMode        = "voice_mode"
	SettingVoiceForwardTo   = "voice_forward_to"
	SettingVoiceQueue       = "voice_queue"
	SettingVoiceMessage     = "voice_message"
	SettingConfigureNumber  = "configure_number"
)

// Voice modes: what the gateway answers when the number is called.
const (
	// VoiceNone rejects calls (they are still reported as call.* events).
	VoiceNone = "none"
	// VoiceForward dials voice_forward_to: a number, sip:URI or
	// client:identity.
	VoiceForward = "forward"
	// VoiceQueue puts the caller into the queue voice_queue.
	VoiceQueue = "queue"
	// VoiceVoicemail says voice_message, then records a message.
	VoiceVoicemail = "voicemail"
)

// DefaultVoiceMessage is said before the beep in voicemail mode when no
// voice_message is set.
const DefaultVoiceMessage = "Thank you for calling. Please leave a message after the tone."

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// Options configure a Connector. The zero value talks to api.twilio.com.
type Options struct {
	// APIURL is the REST API's base URL, without the /2010-04-01 path;
	// media and recordings are fetched from it too. Default DefaultAPIURL;
	// tests name a fake.
	APIURL string `mapstructure:"api_url"`
	// HTTPClient makes every REST request. Default: a client with a 15s
	// timeout. File downloads use its Transport with a longer timeout.
	HTTPClient *http.Client `mapstructure:"-"`
}

// DefaultOptions are the twilio.* config keys' defaults.
func DefaultOptions() Options { return Options{APIURL: DefaultAPIURL} }

// Validate checks the configured fields and names the first bad one by its
// config key.
func (o Options) Validate() error {
	if u, err := url.Parse(o.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("api_url: want an absolute http(s) URL, got %q", o.APIURL)
	}
	return nil
}

// Connector is the Twilio connector. One value serves every Twilio
// connection; it has no mutable state and is safe for concurrent use.
type Connector struct {
	apiURL     string
	client     *http.Client
	fileClient *http.Client
}

var (
	_ connectors.Connector       = (*Connector)(nil)
	_ connectors.WebhookReceiver = (*Connector)(nil)
	_ connectors.FileFetcher     = (*Connector)(nil)
	_ connectors.Identifier      = (*Connector)(nil)
)

// New returns a Connector; zero Options fields take their defaults.
func New(opts Options) *Connector {
	cn := &Connector{apiURL: strings.TrimSuffix(opts.APIURL, "/"), client: opts.HTTPClient}
	if cn.apiURL == "" {
		cn.apiURL = DefaultAPIURL
	}
	if cn.client == nil {
		cn.client = &http.Client{Timeout: 15 * time.Second}
	}
	cn.fileClient = &http.Client{Transport: cn.client.Transport, Timeout: 10 * time.Minute}
	return cn
}

// Describe returns the connector's type, title and settings form.
func (*Connector) Describe() connectors.Description {
	return connectors.Description{
		Type:  Type,
		Title: "Twilio (SMS, WhatsApp, voice)",
		Fields: []connectors.Field{
			{Key: SettingAccountSID, Label: "Account SID", Help: "AC… from the Twilio Console's account dashboard", Type: "text", Required: true},
			{Key: SettingAuthToken, Label: "Auth Token", Help: "the account's primary Auth Token; Twilio signs its webhooks with it", Type: "secret", Required: true},
			{Key: SettingAPIKeySID, Label: "API key SID", Help: "optional SK…: the gateway then calls the REST API with this key instead of the Auth Token", Type: "text"},
			{Key: SettingAPIKeySecret, Label: "API key secret", Help: "the secret of that API key", Type: "secret"},
			{Key: SettingPhoneNumber, Label: "Phone number", Help: "the Twilio number customers text and call, in E.164 (+14155550100)", Type: "text"},
			{Key: SettingWhatsAppNumber, Label: "WhatsApp sender", Help: "the number of the WhatsApp sender, in E.164; may be the phone number", Type: "text"},
			{Key: SettingMessagingService, Label: "Messaging Service SID", Help: "optional MG…: replies are sent through this service instead of from the number", Type: "text"},
			{Key: SettingVoiceMode, Label: "Calls", Help: "none: reject calls; forward: dial a number, sip: URI or client: identity; queue: put callers in a queue; voicemail: say a message and record", Type: "select", Options: []string{VoiceNone, VoiceForward, VoiceQueue, VoiceVoicemail}, Default: VoiceNone},
			{Key: SettingVoiceForwardTo, Label: "Forward calls to", Help: "forward mode: +E.164 number, sip:agent@pbx.example.com or client:agent-identity", Type: "text"},
			{Key: SettingVoiceQueue, Label: "Queue name", Help: "queue mode: the name of the Twilio queue", Type: "text"},
			{Key: SettingVoiceMessage, Label: "Voicemail message", Help: "voicemail mode: what callers hear before the tone", Type: "text", Default: DefaultVoiceMessage},
			{Key: SettingConfigureNumber, Label: "Set the webhook URLs on the number", Help: "when activated, the gateway sets the phone number's message, call and call-status URLs through Twilio's API (and clears them when deactivated); otherwise paste the URLs the test lists", Type: "bool", Default: "false"},
		},
	}
}
