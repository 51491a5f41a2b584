using System.Collections.Frozen;
using Transformation.Incentives.V1;

namespace Transformation.Incentives.Api.Infrastructure;

/// <summary>The current version of every behaviour, for evaluation (refreshed on change and every few seconds).</summary>
public sealed class BehaviourCache(IncentivesDatabase database, TimeProvider time) : IDisposable
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private (FrozenDictionary<string, BehaviourSnapshot> Behaviours, DateTimeOffset Until) _current =
        (FrozenDictionary<string, BehaviourSnapshot>.Empty, DateTimeOffset.MinValue);

    public async ValueTask<BehaviourSnapshot?> FindAsync(string behaviourId, CancellationToken cancellationToken)
    {
        var cached = _current;
        // An unknown id waits for the next refresh (changes made through this instance invalidate at once).
        if (cached.Until <= time.GetUtcNow())
        {
            cached = await RefreshAsync(cached, cancellationToken);
        }

        return cached.Behaviours.GetValueOrDefault(behaviourId);
    }

    public void Invalidate() => _current = (_current.Behaviours, DateTimeOffset.MinValue);

    private async Task<(FrozenDictionary<string, BehaviourSnapshot>, DateTimeOffset)> RefreshAsync(
        (FrozenDictionary<string, BehaviourSnapshot> Behaviours, DateTimeOffset Until) seen, CancellationToken cancellationToken)
    {
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            // Another caller refreshed while this one waited.
            if (!ReferenceEquals(_current.Behaviours, seen.Behaviours) && _current.Until > time.GetUtcNow())
            {
                return _current;
            }

            await using var connection = await database.OpenAsync(cancellationToken);
            var all = await CatalogueStore.ListAsync(connection, Transformation.Initiatives.V1.Polarity.Unspecified, includeRetired: true, cancellationToken);
            _current = (all.ToFrozenDictionary(b => b.BehaviourId, StringComparer.Ordinal), time.GetUtcNow() + CacheFor);
            return _current;
        }
        finally
        {
            _refresh.Release();
        }
    }

    public void Dispose() => _refresh.Dispose();
}
