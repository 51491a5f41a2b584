using Transformation.Baselines.Api.Infrastructure;
using Transformation.Directory.V1;
using Transformation.EventBus;

namespace Transformation.Baselines.Api.IntegrationEvents.Handlers;

/// <summary>Keeps the org tree from the Directory's versioned snapshots (upserted when newer). Employees: EmployeeHandlers.</summary>
public sealed class OrgUnitChangedHandler(ScoreCache cache) : IHandleEvent<OrgUnitChanged>
{
    public async Task HandleAsync(OrgUnitChanged message, EventContext context, CancellationToken cancellationToken)
    {
        if (message.OrgUnit is not { } unit)
        {
            return;
        }

        await context.Connection.ExecuteAsync(context.Transaction, """
            INSERT INTO org_units (org_unit_id, parent_id, name, closed, version) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (org_unit_id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name, closed = excluded.closed, version = excluded.version
            WHERE org_units.version < excluded.version
            """, cancellationToken, unit.OrgUnitId, unit.ParentId, unit.Name, unit.Closed, unit.Version);
        cache.Clear();
    }
}
