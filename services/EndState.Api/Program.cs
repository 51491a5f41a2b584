using Transformation.EndState.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddEndStateService();
var app = builder.Build();
app.MapEndStateService();
app.Run();

public partial class Program;
