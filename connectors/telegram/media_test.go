package telegram_test

import (
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
)

func TestSendPhotoAndDocumentByURL(t *testing.T) {
	cn, c, srv := setup(t)
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "Here is your label", ReplyTo: "12", Files: []connectors.OutFile{
		{URL: "https://cdn.example.com/label.png", Mime: "image/png"},
		{URL: "https://cdn.example.com/terms.pdf", Name: "terms.pdf", Mime: "application/pdf"},
	}})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(d.MessageIDs) != 2 {
		t.Fatalf("delivery %v, want one id per file", d)
	}
	photo := srv.Calls("sendPhoto")
	if len(photo) != 1 || photo[0].Get("photo") != "https://cdn.example.com/label.png" || photo[0].Get("caption") != "Here is your label" ||
		photo[0].Get("reply_to_message_id") != "12" || photo[0].Get("chat_id") != chatID {
		t.Errorf("sendPhoto calls = %v", photo)
	}
	doc := srv.Calls("sendDocument")
	if len(doc) != 1 || doc[0].Get("document") != "https://cdn.example.com/terms.pdf" || doc[0].Has("caption") || doc[0].Has("reply_to_message_id") {
		t.Errorf("sendDocument calls = %v", doc)
	}
	if n := len(srv.Calls("sendMessage")); n != 0 {
		t.Errorf("a text that fits the caption was also sent as %d message(s)", n)
	}
	msgs := srv.Messages(token, chatIDInt)
	if len(msgs) != 2 || msgs[0].Kind != "photo" || msgs[1].Kind != "document" {
		t.Errorf("chat shows %+v", msgs)
	}
}

func TestSendLongTextThenFile(t *testing.T) {
	cn, c, srv := setup(t)
	text := longText(1500) // too long for a caption
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: text, Files: []connectors.OutFile{{URL: "https://cdn.example.com/x.jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(token, chatIDInt)
	if len(msgs) != 2 || msgs[0].Kind != "text" || msgs[0].Text != text || msgs[1].Kind != "photo" || msgs[1].Text != "" || len(d.MessageIDs) != 2 {
		t.Fatalf("chat shows %+v, delivery %v; want the text, then the photo without caption", msgs, d)
	}
}

func TestSendImageTelegramRefusesGoesAsDocument(t *testing.T) {
	cn, c, srv := setup(t)
	srv.FailNext("sendPhoto", 1, 400, "Bad Request: PHOTO_INVALID_DIMENSIONS", 0)
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Files: []connectors.OutFile{{URL: "https://cdn.example.com/panorama.jpg"}}})
	if err != nil || len(d.MessageIDs) != 1 {
		t.Fatalf("Send = %v, %v", d, err)
	}
	if msgs := srv.Messages(token, chatIDInt); len(msgs) != 1 || msgs[0].Kind != "document" {
		t.Errorf("chat shows %+v, want the image as a document", msgs)
	}
}

func TestSendSkipsPartsAlreadyDelivered(t *testing.T) {
	cn, c, srv := setup(t)
	text := strings.Repeat("a", 4000) + "\n\n" + strings.Repeat("b", 4000) + "\n\n" + strings.Repeat("c", 100)
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: text, ReplyTo: "5", SentParts: 2,
		Files: []connectors.OutFile{{URL: "https://cdn.example.com/a.pdf"}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(token, chatIDInt)
	if len(msgs) != 2 || msgs[0].Text != strings.Repeat("c", 100) || msgs[0].ReplyTo != 0 || msgs[1].Kind != "document" {
		t.Fatalf("chat shows %+v, want only the third part (no reply) and the file", msgs)
	}
	if len(d.MessageIDs) != 2 {
		t.Errorf("delivery %v, want the ids of what this call sent", d)
	}
	// Everything already delivered: nothing more is sent.
	d, err = cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "x", SentParts: 1})
	if err != nil || len(d.MessageIDs) != 0 || len(srv.Messages(token, chatIDInt)) != 2 {
		t.Errorf("Send of a finished message = %v, %v", d, err)
	}
}

func TestEditCaptionAndUnchangedText(t *testing.T) {
	cn, c, srv := setup(t)
	d, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "old caption", Files: []connectors.OutFile{{URL: "https://cdn.example.com/a.png"}}})
	if err != nil {
		t.Fatal(err)
	}
	id := d.MessageIDs[0]
	if _, err := cn.Edit(t.Context(), c, connectors.Edit{ChatID: chatID, MessageID: id, Text: "new caption"}); err != nil {
		t.Fatalf("Edit of a photo: %v", err)
	}
	if msgs := srv.Messages(token, chatIDInt); msgs[0].Text != "new caption" {
		t.Errorf("caption is %q", msgs[0].Text)
	}
	if _, err := cn.Edit(t.Context(), c, connectors.Edit{ChatID: chatID, MessageID: id, Text: "new caption"}); err != nil {
		t.Errorf("an edit that changes nothing failed: %v", err)
	}
	_, err = cn.Edit(t.Context(), c, connectors.Edit{ChatID: chatID, MessageID: id, Text: strings.Repeat("x", 1100)})
	wantPermanent(t, err)
}

func TestBlockedUserIsAClearPermanentFailure(t *testing.T) {
	cn, c, srv := setup(t)
	srv.FailNext("sendMessage", 1, 403, "Forbidden: bot was blocked by the user", 0)
	_, err := cn.Send(t.Context(), c, connectors.Outbound{ChatID: chatID, Text: "hello?"})
	wantPermanent(t, err)
	if err == nil || !strings.Contains(err.Error(), "blocked the bot") {
		t.Errorf("err = %v, want it to say the customer blocked the bot", err)
	}
}

func TestSendWithoutToken(t *testing.T) {
	cn, c, srv := setup(t)
	_, err := cn.Send(t.Context(), connectortest.WithSettings(c, "bot_token", ""), connectors.Outbound{ChatID: chatID, Text: "x"})
	wantPermanent(t, err)
	if len(srv.Requests("")) != 0 {
		t.Error("a call was made without a token")
	}
}
