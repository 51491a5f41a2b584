using Transformation.Initiatives.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddInitiativesService();
var app = builder.Build();
app.MapInitiativesService();
app.Run();

public partial class Program;
