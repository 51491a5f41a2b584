using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.Incentives.Api.Infrastructure;

namespace Transformation.Incentives.Api.IntegrationEvents.Handlers;

/// <summary>Keeps the local copy of the Directory: every event carries a full versioned snapshot, upserted when newer.</summary>
public sealed class OrgUnitChangedHandler : IHandleEvent<OrgUnitChanged>
{
    public Task HandleAsync(OrgUnitChanged message, EventContext context, CancellationToken cancellationToken) =>
        message.OrgUnit is null ? Task.CompletedTask : DirectoryCopy.UpsertOrgUnitAsync(context.Connection, context.Transaction, message.OrgUnit, cancellationToken);
}

public sealed class EmployeeJoinedHandler : IHandleEvent<EmployeeJoined>
{
    public Task HandleAsync(EmployeeJoined message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : DirectoryCopy.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeMovedHandler : IHandleEvent<EmployeeMoved>
{
    public Task HandleAsync(EmployeeMoved message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : DirectoryCopy.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeUpdatedHandler : IHandleEvent<EmployeeUpdated>
{
    public Task HandleAsync(EmployeeUpdated message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : DirectoryCopy.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeLeftHandler : IHandleEvent<EmployeeLeft>
{
    public Task HandleAsync(EmployeeLeft message, EventContext context, CancellationToken cancellationToken) =>
        message.Employee is null ? Task.CompletedTask : DirectoryCopy.UpsertEmployeeAsync(context.Connection, context.Transaction, message.Employee, cancellationToken);
}

public sealed class EmployeeErasedHandler : IHandleEvent<EmployeeErased>
{
    public Task HandleAsync(EmployeeErased message, EventContext context, CancellationToken cancellationToken) =>
        DirectoryCopy.EraseEmployeeAsync(context.Connection, context.Transaction, message.EmployeeId, message.Version, cancellationToken);
}
