package slack_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/connector-gateway/connector/connectors/slack"
)

type knownNames map[string]string

func (k knownNames) UserName(id string) (string, bool)    { n, ok := k["@"+id]; return n, ok }
func (k knownNames) ChannelName(id string) (string, bool) { n, ok := k["#"+id]; return n, ok }

func TestPlainText(t *testing.T) {
	names := knownNames{"@U0ANNA001": "Anna", "#C0SUPP001": "support"}
	cases := []struct{ in, want string }{
		// The acceptance example.
		{":smile: *bold*", "😄 bold"},
		{"_italic_ and ~gone~ and *bold _both_*", "italic and gone and bold both"},
		{"2*3*4 = 24, snake_case_name, a * b * c", "2*3*4 = 24, snake_case_name, a * b * c"},
		{"*not\nbold*", "*not\nbold*"},
		{"* spaced *", "* spaced *"},
		{"(*note*)", "(note)"},
		{"price: 5 &lt; 7 &amp;&amp; 9 &gt; 3", "price: 5 < 7 && 9 > 3"},
		{"&gt; quoted line\nanswer", "> quoted line\nanswer"},
		{"see <https://example.com/a_b_c>", "see https://example.com/a_b_c"},
		{"see <https://example.com/?a=1&amp;b=2|the *docs*>", "see the *docs*"},
		{"*see <https://example.com|this>*", "see this"},
		{"mail <mailto:a@b.example|a@b.example>", "mail a@b.example"},
		{"hi <@U0ANNA001> and <@U0BOB0001> and <@U0CARL001|carl>", "hi @Anna and @U0BOB0001 and @carl"},
		{"in <#C0SUPP001> or <#C0OTHER01|general> or <#C0NONE001>", "in #support or #general or #C0NONE001"},
		{"<!here> <!channel> <!everyone> <!subteam^S0TEAM001|@oncall>", "@here @channel @everyone @oncall"},
		{"due <!date^1700000000^{date_short}|Nov 14, 2023>", "due Nov 14, 2023"},
		{":+1::skin-tone-3: :v::skin-tone-6: :heart: :tada:", "👍🏼 ✌🏿 ❤️ 🎉"},
		{":my_custom_emoji: stays, :white_check_mark: done", ":my_custom_emoji: stays, ✅ done"},
		{"at 10:30:45 :smile:", "at 10:30:45 😄"},
		{"`*raw* :smile: &lt;x&gt;`", "*raw* :smile: <x>"},
		{"```\nfunc main() {\n\t_ = *p\n}\n```\nafter *b*", "func main() {\n\t_ = *p\n}\nafter b"},
		{"unclosed ``` fence and `tick", "unclosed ``` fence and `tick"},
		{"lone < no close", "lone < no close"},
		{"", ""},
		{"Grüße 👋 *fett*", "Grüße 👋 fett"},
	}
	for _, c := range cases {
		if got := slack.PlainText(c.in, names); got != c.want {
			t.Errorf("PlainText(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	if got := slack.PlainText("<@U0ANNA001>", nil); got != "@U0ANNA001" {
		t.Errorf("without names: %q", got)
	}
}

func FuzzPlainText(f *testing.F) {
	for _, s := range []string{":smile: *bold*", "<https://x|y>", "```a```", "`b`", "&lt;&gt;&amp;", "*_~x~_*", ":+1::skin-tone-2:", "<@U1|a", "\xff*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := slack.PlainText(in, knownNames{})
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("valid UTF-8 %q became invalid %q", in, out)
		}
		if len(out) > 4*len(in)+16 {
			t.Fatalf("output grew from %d to %d bytes", len(in), len(out))
		}
	})
}

func BenchmarkPlainText(b *testing.B) {
	typical := "Hi <@U0ANNA001>, *thanks*! :smile: Your order <https://shop.example/o/1042|#1042> ships _today_ &amp; arrives ~soon~ Monday."
	hostile := strings.Repeat("*a _<b ~`:", 100000) // 1 MB of openers, no closers
	for _, c := range []struct{ name, in string }{{"typical", typical}, {"hostile-1MB", hostile}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				slack.PlainText(c.in, knownNames{})
			}
		})
	}
}
