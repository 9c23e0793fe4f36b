package botframework

import (
	"encoding/json"
	"time"
)

// Activity types (Bot Framework's "type" field).
const (
	activityMessage               = "message"
	activityMessageUpdate         = "messageUpdate"
	activityMessageDelete         = "messageDelete"
	activityConversationUpdate    = "conversationUpdate"
	activityInstallationUpdate    = "installationUpdate"
	activityContactRelationUpdate = "contactRelationUpdate"
	activityTyping                = "typing"
)

// activity is the part of a Bot Framework activity the gateway reads.
type activity struct {
	Type         string       `json:"type"`
	ID           string       `json:"id,omitempty"`
	Timestamp    string       `json:"timestamp,omitempty"`
	ServiceURL   string       `json:"serviceUrl,omitempty"`
	ChannelID    string       `json:"channelId,omitempty"`
	From         *account     `json:"from,omitempty"`
	Conversation *convAccount `json:"conversation,omitempty"`
	Recipient    *account     `json:"recipient,omitempty"`
	Text         string       `json:"text,omitempty"`
	TextFormat   string       `json:"textFormat,omitempty"`
	Locale       string       `json:"locale,omitempty"`
	Attachments  []attachment `json:"attachments,omitempty"`
	Entities     []entity     `json:"entities,omitempty"`
	ReplyToID    string       `json:"replyToId,omitempty"`
	ChannelData  *channelData `json:"channelData,omitempty"`
}

type account struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
	Role        string `json:"role,omitempty"`
}

type convAccount struct {
	ID               string `json:"id"`
	Name             string `json:"name,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
	ConversationType string `json:"conversationType,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
}

type attachment struct {
	ContentType  string          `json:"contentType"`
	ContentURL   string          `json:"contentUrl,omitempty"`
	Content      json.RawMessage `json:"content,omitempty"`
	Name         string          `json:"name,omitempty"`
	ThumbnailURL string          `json:"thumbnailUrl,omitempty"`
}

// entity is a mention (Teams: the bot's own <at>name</at> in a channel).
type entity struct {
	Type      string   `json:"type"`
	Mentioned *account `json:"mentioned,omitempty"`
	Text      string   `json:"text,omitempty"`
}

// channelData is Teams' part of channelData.
type channelData struct {
	Tenant *struct {
		ID string `json:"id"`
	} `json:"tenant,omitempty"`
	EventType string `json:"eventType,omitempty"`
}

// teamsFileInfo is the content of a Teams file attachment
// (application/vnd.microsoft.teams.file.download.info).
type teamsFileInfo struct {
	DownloadURL string `json:"downloadUrl"`
	FileType    string `json:"fileType"`
}

// occurred is when the activity says it happened, or now.
func (a *activity) occurred(now time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, a.Timestamp); err == nil {
		return t.UTC()
	}
	return now.UTC()
}

// tenant is the conversation's Azure AD tenant, where one is named.
func (a *activity) tenant() string {
	if a.Conversation != nil && a.Conversation.TenantID != "" {
		return a.Conversation.TenantID
	}
	if a.ChannelData != nil && a.ChannelData.Tenant != nil {
		return a.ChannelData.Tenant.ID
	}
	return ""
}
