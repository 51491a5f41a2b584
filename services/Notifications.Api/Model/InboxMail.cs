using System.Globalization;
using System.Text;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.Api.Model;

/// <summary>The text of the inbox's mail: one notification as it arrives, or a day's in a digest.</summary>
public static class InboxMail
{
    public static string DigestSubject(int count) =>
        count == 1 ? "1 new item in your Transformation inbox" : string.Create(CultureInfo.InvariantCulture, $"{count} new items in your Transformation inbox");

    public static string Body(string name, IReadOnlyList<(string Title, string Detail, string Link)> items, Uri portal, EmailFrequency frequency)
    {
        var body = new StringBuilder();
        body.Append(name.Length > 0 ? $"Hello {name},\n\n" : "Hello,\n\n");
        foreach (var (title, detail, link) in items)
        {
            body.Append(title).Append('\n');
            if (detail.Length > 0)
            {
                body.Append(detail).Append('\n');
            }

            body.Append(new Uri(portal, link)).Append("\n\n");
        }

        body.Append(frequency == EmailFrequency.DailyDigest
            ? "You get one mail a day with what arrived in your inbox."
            : "You get a mail as each item arrives in your inbox.");
        body.Append(" To change that, open ").Append(new Uri(portal, "me/notifications/preferences")).Append('\n');
        return body.ToString();
    }
}
