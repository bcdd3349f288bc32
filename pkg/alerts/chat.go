package alerts

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

// The chat rendering: AWS's chat integration (AWS Chatbot, now "Amazon Q
// Developer in chat applications") posts to Slack and Microsoft Teams the
// SNS messages that are in its custom notification format, and drops
// anything else ("Event received is not supported"). See
// https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html.
//
// The integration subscribes to a topic over HTTPS
// (https://global.sns-api.chatbot.amazonaws.com), and a MessageStructure=json
// publish sends each protocol its own key, "default" when it has none (SNS
// Publish API, MessageStructure). So the chat rendering travels as the
// "https" key of the one publish per alert: email, SMS, SQS, Lambda, http
// and email-json subscribers get what they got before; https subscribers
// (chat) get the custom notification.

// Chat notification constants, from the custom notification schema.
const (
	ChatVersion  = "1.0"
	ChatSource   = "custom"
	ChatTextType = "client-markdown"
	// Bounds this rendering keeps to (ours: short enough for a chat card;
	// the schema requires description and nothing longer than SNS's
	// message size).
	MaxChatTitle       = 250
	MaxChatDescription = 4000
	MaxChatItem        = 300
	MaxChatKeywords    = 5
	MaxChatThreadID    = 128
)

// ChatNotification is the custom notification document.
type ChatNotification struct {
	Version  string       `json:"version"`
	Source   string       `json:"source"`
	ID       string       `json:"id,omitempty"`
	Content  ChatContent  `json:"content"`
	Metadata ChatMetadata `json:"metadata"`
}

// ChatContent is what the channel shows.
type ChatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// ChatMetadata threads and describes the notification.
type ChatMetadata struct {
	// ThreadID groups a stream's alerts in one thread.
	ThreadID          string            `json:"threadId"`
	Summary           string            `json:"summary,omitempty"`
	EventType         string            `json:"eventType,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// ChatThreadID is the thread of a stream's alerts.
func ChatThreadID(streamID string) string {
	return cut("fastpix-stream-"+chatID(orNone(streamID)), MaxChatThreadID)
}

// chatText makes a value from a payload (a workspace name) inert in chat
// markdown: no control characters, no Slack link or mention syntax (< > &
// are escaped as Slack asks), no @channel-style mention, no formatting
// characters.
func chatText(s string) string {
	s = OneLine(s)
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "@", "@\u200b", "*", "\u2217", "_", "\uff3f", "~", "\u223c", "`", "'", "|", "\u2223")
	return r.Replace(s)
}

// chatID is an id shown in a code span: only what ids are made of.
func chatID(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == ':' {
			return r
		}
		return '_'
	}, s)
}

func code(id string) string { return "`" + chatID(orNone(id)) + "`" }

// emoji is the title's marker of the kind.
func emoji(a Alert) string {
	switch KindOf(a) {
	case KindLive:
		return ":large_green_circle:"
	case KindRecovered:
		return ":white_check_mark:"
	case KindDisconnected:
		return ":red_circle:"
	case KindUnstable:
		return ":warning:"
	case KindSimulcast:
		return ":satellite_antenna:"
	}
	return ":information_source:"
}

// ChatRendering is a's custom notification.
func ChatRendering(a Alert) ChatNotification {
	ws := a.WorkspaceName
	if ws == "" {
		ws = a.WorkspaceID
	}
	title := emoji(a) + " " + tag(a) + ": stream " + code(a.StreamID)
	if a.SimulcastID != "" {
		title += " target " + code(a.SimulcastID)
	}
	if ws != "" {
		title += " (" + cut(chatText(ws), 60) + ")"
	}
	if a.Test {
		title = "(TEST) " + title
	}

	var d strings.Builder
	d.WriteString(chatText(headline(a)))
	d.WriteString("\n")
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&d, "*%s:* %s\n", k, v)
		}
	}
	status := chatText(a.Status)
	if a.PreviousStatus != "" {
		status = chatText(a.PreviousStatus) + " → " + status
	}
	line("Status", status)
	if t, ok := occurred(a); ok {
		line("When", t.Format("Mon 2 Jan 2006, 15:04:05 UTC"))
	}
	if a.LiveFor > 0 {
		line("Live for", FormatDuration(a.LiveFor))
	}
	if a.Kind == alertrules.KindRecovery {
		line("Down for", FormatDuration(a.DownFor))
	}
	if a.Kind == alertrules.KindUnstable {
		line("Brief drops", dropped(a))
	}
	if len(a.SimulcastTargets) > 0 {
		ts := make([]string, 0, len(a.SimulcastTargets))
		for _, t := range a.SimulcastTargets {
			s := code(t.ID)
			if t.Status != "" {
				s += " " + chatText(t.Status)
			}
			ts = append(ts, s)
		}
		line("Simulcast targets", strings.Join(ts, ", "))
	}
	if ws != "" {
		w := chatText(a.WorkspaceName)
		if a.WorkspaceID != "" {
			w = strings.TrimSpace(w + " " + code(a.WorkspaceID))
		}
		line("Workspace", w)
	}
	line("Event", code(a.EventID))

	var next []string
	switch KindOf(a) {
	case KindDisconnected, KindUnstable:
		next = append(next, "Check the encoder sending stream "+code(a.StreamID)+" (network, power, stream key).")
	case KindSimulcast:
		if a.Status != "broadcasting" {
			next = append(next, "Check simulcast target "+code(a.SimulcastID)+" (its platform's stream key and URL).")
		}
	}
	next = append(next, "`fastpixctl inspect -stream "+chatID(orNone(a.StreamID))+"` shows its state and last events.")
	for i := range next {
		next[i] = cut(next[i], MaxChatItem)
	}

	keywords := []string{}
	if k := KindOf(a); k != "" {
		keywords = append(keywords, k)
	}
	if a.WorkspaceID != "" {
		keywords = append(keywords, cut(chatID(a.WorkspaceID), 60))
	}
	if a.Test {
		keywords = append(keywords, "test")
	}

	context := map[string]string{}
	for k, v := range map[string]string{"eventId": a.EventID, "eventType": a.Type, "streamId": a.StreamID, "simulcastTargetId": a.SimulcastID, "workspaceId": a.WorkspaceID, "status": a.Status, "occurredAt": a.OccurredAt} {
		if v != "" {
			context[k] = cut(OneLine(v), MaxChatItem)
		}
	}
	return ChatNotification{
		Version: ChatVersion,
		Source:  ChatSource,
		ID:      cut(chatID(a.EventID), MaxChatThreadID),
		Content: ChatContent{
			TextType:    ChatTextType,
			Title:       cut(title, MaxChatTitle),
			Description: cut(strings.TrimRight(d.String(), "\n"), MaxChatDescription),
			NextSteps:   next,
			Keywords:    keywords,
		},
		Metadata: ChatMetadata{
			ThreadID:          ChatThreadID(a.StreamID),
			Summary:           cut(subject(a), MaxChatItem),
			EventType:         KindOf(a),
			AdditionalContext: context,
		},
	}
}

func chatJSON(a Alert) string {
	b, err := json.Marshal(ChatRendering(a))
	if err != nil {
		// Strings only: it always marshals; keep the key valid anyway.
		return `{"version":"1.0","source":"custom","content":{"description":"FastPix alert"}}`
	}
	return string(b)
}
