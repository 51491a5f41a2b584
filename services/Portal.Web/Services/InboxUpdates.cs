namespace Transformation.Portal.Web.Services;

/// <summary>
/// The circuit's live unread count (the header's InboxLink watches Notifications and publishes here), for the inbox page to
/// list again when it changes: one stream per circuit, whatever the pages.
/// </summary>
public sealed class InboxUpdates
{
    private readonly List<Action<int>> _listeners = [];

    public IDisposable Subscribe(Action<int> changed)
    {
        _listeners.Add(changed);
        return new Subscription(() => _listeners.Remove(changed));
    }

    public void Publish(int unread)
    {
        foreach (var listener in _listeners.ToList())
        {
            listener(unread);
        }
    }

    private sealed class Subscription(Action end) : IDisposable
    {
        public void Dispose() => end();
    }
}
