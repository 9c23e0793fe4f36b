package telegram_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
)

// parseOne parses an update built from content fields and returns its one
// event.
func parseOne(t *testing.T, content map[string]any) connectors.Event {
	t.Helper()
	cn, c, _ := setup(t)
	in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: telegramtest.Update(41, chatIDInt, content)})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(in.Events) != 1 {
		t.Fatalf("got %d events, want 1", len(in.Events))
	}
	js, _ := json.Marshal(in.Events)
	if strings.Contains(string(js), token) {
		t.Fatal("event carries the bot token")
	}
	return in.Events[0].Event
}

func oneFile(t *testing.T, ev connectors.Event) connectors.File {
	t.Helper()
	if ev.Message == nil || len(ev.Message.Files) != 1 {
		t.Fatalf("message = %+v, want one file", ev.Message)
	}
	return ev.Message.Files[0]
}

func TestParseMediaKinds(t *testing.T) {
	doc := map[string]any{"file_id": "DOC1", "file_unique_id": "uDOC1", "file_name": "invoice.pdf", "mime_type": "application/pdf", "file_size": 48213}
	cases := []struct {
		name     string
		content  map[string]any
		want     connectors.File
		wantRef  string
		wantText string
	}{
		{
			name: "photo: the largest size, with caption",
			content: map[string]any{"caption": "my broken parcel", "photo": []map[string]any{
				{"file_id": "PH_S", "file_unique_id": "uS", "width": 90, "height": 67, "file_size": 1200},
				{"file_id": "PH_L", "file_unique_id": "uL", "width": 1280, "height": 960, "file_size": 98000},
				{"file_id": "PH_M", "file_unique_id": "uM", "width": 320, "height": 240, "file_size": 15000},
			}},
			want:     connectors.File{Name: "photo_uL.jpg", Mime: "image/jpeg", Size: 98000, Kind: "photo"},
			wantRef:  "f:PH_L",
			wantText: "my broken parcel",
		},
		{
			name:    "document keeps its name and type",
			content: map[string]any{"document": doc},
			want:    connectors.File{Name: "invoice.pdf", Mime: "application/pdf", Size: 48213, Kind: "document"},
			wantRef: "f:DOC1",
		},
		{
			name: "audio",
			content: map[string]any{"audio": map[string]any{"file_id": "AU", "file_unique_id": "uAU", "duration": 200,
				"performer": "X", "title": "Song", "mime_type": "audio/mpeg", "file_size": 3000000, "file_name": "song.mp3"}},
			want:    connectors.File{Name: "song.mp3", Mime: "audio/mpeg", Size: 3000000, Kind: "audio"},
			wantRef: "f:AU",
		},
		{
			name:    "voice note",
			content: map[string]any{"voice": map[string]any{"file_id": "VO", "file_unique_id": "uVO", "duration": 4, "mime_type": "audio/ogg", "file_size": 9000}},
			want:    connectors.File{Name: "voice_uVO.ogg", Mime: "audio/ogg", Size: 9000, Kind: "voice"},
			wantRef: "f:VO",
		},
		{
			name: "video with caption",
			content: map[string]any{"caption": "see?", "video": map[string]any{"file_id": "VI", "file_unique_id": "uVI", "width": 640,
				"height": 480, "duration": 9, "mime_type": "video/mp4", "file_size": 700000}},
			want:     connectors.File{Name: "video_uVI.mp4", Mime: "video/mp4", Size: 700000, Kind: "video"},
			wantRef:  "f:VI",
			wantText: "see?",
		},
		{
			name:    "video note (round video)",
			content: map[string]any{"video_note": map[string]any{"file_id": "VN", "file_unique_id": "uVN", "length": 240, "duration": 5, "file_size": 300000}},
			want:    connectors.File{Name: "video_note_uVN.mp4", Mime: "video/mp4", Size: 300000, Kind: "video_note"},
			wantRef: "f:VN",
		},
		{
			name: "animation is one file, not also a document",
			content: map[string]any{
				"animation": map[string]any{"file_id": "AN", "file_unique_id": "uAN", "width": 200, "height": 200, "duration": 2, "file_name": "cat.mp4", "mime_type": "video/mp4", "file_size": 50000},
				"document":  map[string]any{"file_id": "AN", "file_unique_id": "uAN", "file_name": "cat.mp4", "mime_type": "video/mp4", "file_size": 50000},
			},
			want:    connectors.File{Name: "cat.mp4", Mime: "video/mp4", Size: 50000, Kind: "animation"},
			wantRef: "f:AN",
		},
		{
			name: "static sticker, its emoji as text",
			content: map[string]any{"sticker": map[string]any{"file_id": "ST", "file_unique_id": "uST", "type": "regular", "width": 512, "height": 512,
				"is_animated": false, "is_video": false, "emoji": "👍", "file_size": 20000}},
			want:     connectors.File{Name: "sticker_uST.webp", Mime: "image/webp", Size: 20000, Kind: "sticker"},
			wantRef:  "f:ST",
			wantText: "👍",
		},
		{
			name: "animated sticker",
			content: map[string]any{"sticker": map[string]any{"file_id": "SA", "file_unique_id": "uSA", "type": "regular", "width": 512, "height": 512,
				"is_animated": true, "is_video": false, "emoji": "🎉"}},
			want:     connectors.File{Name: "sticker_uSA.tgs", Mime: "application/x-tgsticker", Kind: "sticker"},
			wantRef:  "f:SA",
			wantText: "🎉",
		},
		{
			name: "video sticker",
			content: map[string]any{"sticker": map[string]any{"file_id": "SV", "file_unique_id": "uSV", "type": "regular", "width": 512, "height": 512,
				"is_animated": false, "is_video": true}},
			want:    connectors.File{Name: "sticker_uSV.webm", Mime: "video/webm", Kind: "sticker"},
			wantRef: "f:SV",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := parseOne(t, tc.content)
			f := oneFile(t, ev)
			gotURL := f.URL
			f.URL = ""
			if f != tc.want {
				t.Errorf("file = %+v\nwant   %+v", f, tc.want)
			}
			if ref := connectortest.RefOf(t, gotURL); ref != tc.wantRef {
				t.Errorf("link names %q, want %q", ref, tc.wantRef)
			}
			if ev.Message.Text != tc.wantText {
				t.Errorf("text = %q, want %q", ev.Message.Text, tc.wantText)
			}
		})
	}
}

func TestParseFileOverDownloadLimit(t *testing.T) {
	ev := parseOne(t, map[string]any{"caption": "the whole film", "video": map[string]any{"file_id": "BIG", "file_unique_id": "uBIG",
		"width": 1920, "height": 1080, "duration": 600, "mime_type": "video/mp4", "file_size": 21 << 20}})
	f := oneFile(t, ev)
	if !f.TooLarge || f.URL != "" || f.Size != 21<<20 || f.Name == "" {
		t.Errorf("file = %+v, want too_large with size and name, no URL", f)
	}
	if ev.Message.Text != "the whole film" {
		t.Errorf("caption lost: %q", ev.Message.Text)
	}
}

func TestParseFilesWithoutLinker(t *testing.T) {
	cn, c, _ := setup(t)
	c.Files = nil // a gateway without a public URL
	in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: telegramtest.Update(3, chatIDInt, map[string]any{
		"document": map[string]any{"file_id": "D", "file_unique_id": "uD", "file_name": "a.txt"}})})
	if err != nil || len(in.Events) != 1 {
		t.Fatalf("Parse = %+v, %v", in, err)
	}
	ev := in.Events[0].Event
	if f := oneFile(t, ev); f.URL != "" || f.Name != "a.txt" {
		t.Errorf("file = %+v, want no URL but the name", f)
	}
	if ev.User.AvatarURL != "" {
		t.Errorf("avatar URL %q without a linker", ev.User.AvatarURL)
	}
}

func TestParsePlacesAndContacts(t *testing.T) {
	ev := parseOne(t, map[string]any{"location": map[string]any{"latitude": 52.520008, "longitude": 13.404954}})
	if l := ev.Message.Location; l == nil || *l != (connectors.Location{Latitude: 52.520008, Longitude: 13.404954}) || ev.Message.Text != "" {
		t.Errorf("location message = %+v", ev.Message)
	}

	ev = parseOne(t, map[string]any{
		"location": map[string]any{"latitude": 48.8584, "longitude": 2.2945},
		"venue": map[string]any{"location": map[string]any{"latitude": 48.8584, "longitude": 2.2945},
			"title": "Eiffel Tower", "address": "Champ de Mars, 5 Av. Anatole France"},
	})
	want := connectors.Location{Latitude: 48.8584, Longitude: 2.2945, Title: "Eiffel Tower", Address: "Champ de Mars, 5 Av. Anatole France"}
	if l := ev.Message.Location; l == nil || *l != want {
		t.Errorf("venue location = %+v, want %+v", ev.Message.Location, want)
	}

	ev = parseOne(t, map[string]any{"contact": map[string]any{"phone_number": "+49 170 1234567", "first_name": "Ann", "last_name": "Berg", "user_id": 77}})
	if ev.Message.Text != "Contact: Ann Berg, +49 170 1234567" {
		t.Errorf("contact text = %q", ev.Message.Text)
	}

	ev = parseOne(t, map[string]any{"dice": map[string]any{"emoji": "🎲", "value": 4}})
	if ev.Message.Text != "🎲 4" {
		t.Errorf("dice text = %q", ev.Message.Text)
	}

	ev = parseOne(t, map[string]any{"poll": map[string]any{"id": "1", "question": "Which day?", "total_voter_count": 0, "is_closed": false,
		"is_anonymous": true, "type": "regular", "allows_multiple_answers": false,
		"options": []map[string]any{{"text": "Monday", "voter_count": 0}, {"text": "Friday", "voter_count": 0}}}})
	if ev.Message.Text != "Poll: Which day?\n- Monday\n- Friday" {
		t.Errorf("poll text = %q", ev.Message.Text)
	}
}

func TestParseTextLinksKeepTheirAddress(t *testing.T) {
	// "Track 📦 here" with "here" linked; the emoji is two UTF-16 units, so
	// offsets count like Telegram's.
	ev := parseOne(t, map[string]any{
		"text": "Track 📦 here or at https://x.example",
		"entities": []map[string]any{
			{"type": "bold", "offset": 0, "length": 5},
			{"type": "text_link", "offset": 9, "length": 4, "url": "https://track.example/42"},
			{"type": "url", "offset": 20, "length": 17},
		},
	})
	if want := "Track 📦 here (https://track.example/42) or at https://x.example"; ev.Message.Text != want {
		t.Errorf("text = %q\nwant %q", ev.Message.Text, want)
	}
	// Out-of-range entities are ignored, not a crash or a lost message.
	ev = parseOne(t, map[string]any{"text": "short", "entities": []map[string]any{{"type": "text_link", "offset": 3, "length": 90, "url": "https://x"}}})
	if ev.Message.Text != "short" {
		t.Errorf("text = %q", ev.Message.Text)
	}
}

func TestParseUserProfile(t *testing.T) {
	ev := parseOne(t, map[string]any{"text": "hi"})
	u := ev.User
	if u == nil || u.ID != chatID || u.Name != "Ann" || u.Username != "ann" || u.Language != "en" {
		t.Fatalf("user = %+v", u)
	}
	if ref := connectortest.RefOf(t, u.AvatarURL); ref != "avatar:"+chatID {
		t.Errorf("avatar link names %q", ref)
	}
}

func TestParseServiceMessagesAreSkipped(t *testing.T) {
	cn, c, _ := setup(t)
	ann := map[string]any{"id": 5, "is_bot": false, "first_name": "Ann"}
	for name, content := range map[string]map[string]any{
		"member joined":     {"new_chat_members": []any{ann}},
		"member left":       {"left_chat_member": ann},
		"title changed":     {"new_chat_title": "New name"},
		"photo changed":     {"new_chat_photo": []map[string]any{{"file_id": "P", "file_unique_id": "u", "width": 1, "height": 1}}},
		"photo deleted":     {"delete_chat_photo": true},
		"group created":     {"group_chat_created": true},
		"upgraded":          {"migrate_to_chat_id": -1001234567890},
		"pinned":            {"pinned_message": map[string]any{"message_id": 3, "date": 1, "chat": map[string]any{"id": 1, "type": "private"}, "text": "x"}},
		"auto-delete timer": {"message_auto_delete_timer_changed": map[string]any{"message_auto_delete_time": 86400}},
		"topic created":     {"forum_topic_created": map[string]any{"name": "t", "icon_color": 1}},
	} {
		body := telegramtest.Update(9, -100200, content)
		in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: body})
		if err != nil || len(in.Events) != 0 {
			t.Errorf("%s: Parse = %+v, %v; want skipped", name, in, err)
		}
	}
}
