using Transformation.Baselines.Api.Infrastructure;
using Transformation.Directory.V1;
using Transformation.EventBus;

namespace Transformation.Baselines.Api.IntegrationEvents.Handlers;

/// <summary>
/// Keeps who works in which unit, to invite a survey's population: the id, the unit and whether the person is active, upserted
/// when newer; and the name and address the invitations and reminders go to (used for mail only: see SurveyMailStore). No role.
/// </summary>
public sealed class EmployeeHandlers :
    IHandleEvent<EmployeeJoined>, IHandleEvent<EmployeeMoved>, IHandleEvent<EmployeeUpdated>, IHandleEvent<EmployeeLeft>, IHandleEvent<EmployeeErased>
{
    public Task HandleAsync(EmployeeJoined message, EventContext context, CancellationToken cancellationToken) => UpsertAsync(message.Employee, context, cancellationToken);

    public Task HandleAsync(EmployeeMoved message, EventContext context, CancellationToken cancellationToken) => UpsertAsync(message.Employee, context, cancellationToken);

    public Task HandleAsync(EmployeeUpdated message, EventContext context, CancellationToken cancellationToken) => UpsertAsync(message.Employee, context, cancellationToken);

    public Task HandleAsync(EmployeeLeft message, EventContext context, CancellationToken cancellationToken) => UpsertAsync(message.Employee, context, cancellationToken);

    public async Task HandleAsync(EmployeeErased message, EventContext context, CancellationToken cancellationToken)
    {
        await SurveyMailStore.ForgetAsync(context.Connection, context.Transaction, message.EmployeeId, cancellationToken);
        await context.Connection.ExecuteAsync(context.Transaction, """
            INSERT INTO employees (employee_id, org_unit_id, active, version) VALUES ($1, '', false, $2)
            ON CONFLICT (employee_id) DO UPDATE SET active = false, display_name = '', email = '', version = excluded.version
            WHERE employees.version < excluded.version
            """, cancellationToken, message.EmployeeId, message.Version);
    }

    private static Task UpsertAsync(EmployeeSnapshot? employee, EventContext context, CancellationToken cancellationToken) =>
        employee is null ? Task.CompletedTask : context.Connection.ExecuteAsync(context.Transaction, """
            INSERT INTO employees (employee_id, org_unit_id, active, version, display_name, email) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (employee_id) DO UPDATE SET org_unit_id = excluded.org_unit_id, active = excluded.active, version = excluded.version,
                display_name = excluded.display_name, email = excluded.email
            WHERE employees.version < excluded.version
            """, cancellationToken, employee.EmployeeId, employee.OrgUnitId, employee.Active, employee.Version, employee.DisplayName, employee.Email);
}
